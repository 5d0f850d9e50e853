"""Writing a message in a real browser: the draft survives a reload and is forgotten
once sent, a counter shows near the limit, Ctrl+Enter sends, and screen readers hear
the messages a poll brings (a live region of their text), not the list being filled."""

import re

import pytest

from wagtail_messenger.actors import Actor
from wagtail_messenger.models import Thread
from wagtail_messenger.services import conversations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, base, username):
    page.goto(base + "/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name=re.compile("log in", re.I)).click()


def test_drafts_counter_keyboard_and_announcements(
    page, live_server, listing, buyer, seller, settings
):
    from playwright.sync_api import expect

    settings.WAGTAILMESSENGER_POLL_INTERVAL = 1
    limit = settings.WAGTAILMESSENGER_MAX_BODY_LENGTH = 1000
    log_in(page, live_server.url, "buyer")

    # Compose: the draft is kept across a reload; near the limit a counter shows.
    page.goto(f"{live_server.url}/messages/new/{listing.pk}/")
    body = page.locator("textarea[name=body]")
    counter = page.locator("[data-wm-counter]")
    body.fill("Is the frame aluminium?")
    expect(counter).to_be_hidden()
    page.reload()
    expect(body).to_have_value("Is the frame aluminium?")
    body.fill("x" * (limit - 40))
    expect(counter).to_be_visible()
    expect(counter).to_have_text("40 characters left")

    # Ctrl+Enter sends (a plain post here), and the draft is forgotten.
    body.fill("Is the frame aluminium?")
    body.press("Control+Enter")
    page.wait_for_url(re.compile(r"/messages/\d+/"))
    expect(page.locator(".wm-messages")).to_contain_text("Is the frame aluminium?")
    thread_url = page.url.split("#")[0]

    # The reply form: a draft survives a reload, Ctrl+Enter sends it live, and a reload
    # afterwards shows an empty box.
    reply = page.locator(".wm-reply textarea[name=body]")
    reply.fill("And the size?")
    page.reload()
    expect(reply).to_have_value("And the size?")
    reply.press("Control+Enter")
    expect(page.locator(".wm-messages")).to_contain_text("And the size?")
    expect(reply).to_have_value("")
    page.reload()
    expect(reply).to_have_value("")
    assert page.locator(".wm-messages[aria-live]").count() == 0

    # What the seller answers arrives by the poll and is read out; the buyer's own
    # messages and the ones already shown are not.
    announcer = page.locator("[data-wm-announce]")
    expect(announcer).to_have_text("")
    thread = Thread.objects.get(pk=int(re.search(r"/(\d+)/", thread_url)[1]))
    conversations.post_message(actor=Actor.for_user(seller), thread=thread, body="It is: 56 cm")
    expect(announcer).to_contain_text("It is: 56 cm", timeout=10000)
    assert "And the size?" not in announcer.inner_text()
