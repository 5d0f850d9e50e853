"""The whole story in a real browser (Debian's chromium through Playwright): a guest
writes from a listing, opens the emailed link, replies; the seller logs in, sees the
unread badge, answers; the guest's open page shows the answer without reload."""

import re
import tempfile
from pathlib import Path

import pytest
from django.core import mail

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

#: Screenshots to look at after a run (the listing and the thread page).
SHOTS = Path(tempfile.gettempdir())
LINK_RE = re.compile(r"https?://[^/\s]+(/messages/link/[\w-]+/)")


@pytest.fixture
def fast_polling(settings):
    settings.WAGTAILMESSENGER_POLL_INTERVAL = 1


def test_guest_and_seller_talk_live(page, browser, live_server, listing, seller, fast_polling):
    from playwright.sync_api import expect

    # The guest opens the listing and writes.
    page.goto(live_server.url + listing.url)
    page.screenshot(path=SHOTS / "wm_listing.png", full_page=True)
    page.get_by_role("link", name="Send message").click()
    page.get_by_label("Your name").fill("Gail Guest")
    page.get_by_label("Your email").fill("gail@example.com")
    page.get_by_label("Message").fill("Hello! Is the bike still for sale?")
    page.get_by_role("button", name="Send message").dblclick()
    expect(page.get_by_text("Your message was sent")).to_be_visible()

    # The emailed private link opens the thread, and the token leaves the address bar.
    to_guest = [m for m in mail.outbox if m.to == ["gail@example.com"]]
    assert len(to_guest) == 1
    path = LINK_RE.search(to_guest[0].body).group(1)
    page.goto(live_server.url + path)
    assert "/messages/link/" not in page.url
    expect(page.locator(".wm-messages")).to_contain_text("Is the bike still for sale?")
    page.locator(".wm-reply textarea[name=body]").fill("Does it come with lights?")
    page.locator(".wm-reply [data-wm-submit]").click()
    expect(page.locator(".wm-messages")).to_contain_text("Does it come with lights?")
    assert page.locator(".wm-message").count() == 2  # the double click posted once

    # The seller logs in and sees the unread badge.
    seller_context = browser.new_context()
    seller_page = seller_context.new_page()
    seller_page.goto(live_server.url + "/accounts/login/")
    seller_page.get_by_label("Username").fill("seller")
    seller_page.get_by_label("Password").fill("pw")
    seller_page.get_by_role("button", name=re.compile("log in", re.I)).click()
    seller_page.goto(live_server.url + "/")
    expect(seller_page.locator("[data-wm-unread-toggle]")).to_have_text("Messages (2)")

    # The seller answers from the thread page.
    seller_page.locator("[data-wm-unread-toggle]").click()
    seller_page.locator("[data-wm-unread-list] a").first.click()
    expect(seller_page.locator(".wm-messages")).to_contain_text("Does it come with lights?")
    seller_page.locator(".wm-reply textarea[name=body]").fill("Yes, front and back lights.")
    seller_page.locator(".wm-reply [data-wm-submit]").click()
    expect(seller_page.locator(".wm-messages")).to_contain_text("front and back lights")

    # The guest's open page shows the answer without reload.
    expect(page.locator(".wm-messages")).to_contain_text("front and back lights", timeout=10000)
    page.screenshot(path=SHOTS / "wm_thread.png", full_page=True)
    seller_context.close()
