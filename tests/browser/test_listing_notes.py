"""A listing's life as its buyer sees it in a real browser: the seller marks the listing
sold while the buyer's conversation is open, the note arrives without a reload; days
later the conversation is closed and leads to the seller's other listings. Takes the
screenshots for docs/threads.md."""

import re
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from wagtail_messenger.models import MessengerSettings

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


def test_the_buyer_sees_the_listing_sold_then_the_conversation_closed(
    page, live_server, settings, site, start, actor, buyer, seller, listing
):
    settings.WAGTAILMESSENGER_POLL_INTERVAL = 1
    conf = MessengerSettings.for_site(site)
    conf.close_ended_listings_days = 3
    conf.save()
    thread = start(
        buyer, seller, body="Hello, is the bike still available?", listing=listing
    ).thread
    from wagtail_messenger.services import conversations

    conversations.post_message(
        actor=actor(seller), thread=thread, body="Yes, someone comes to see it tomorrow."
    )
    page.set_viewport_size({"width": 900, "height": 700})
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill("buyer")
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name=re.compile("log in", re.I)).click()
    page.goto(live_server.url + thread.get_absolute_url())
    expect(page.locator(".wm-messages")).to_contain_text("someone comes to see it")

    listing.status = "sold"
    listing.save_revision().publish()  # what the seller's "Publish" in the admin does

    note = page.locator(".wm-message--note")
    expect(note).to_have_text(re.compile(r"Listing update: This listing was marked as sold\."))
    expect(page.locator(".wm-reply textarea[name=body]")).to_be_visible()  # still open
    page.screenshot(path=DOCS_IMAGES / "listing-note-sold.png", full_page=True)

    with mock.patch("django.utils.timezone.now", return_value=timezone.now() + timedelta(days=4)):
        call_command("messenger_close_ended_listings", verbosity=0)
    page.reload()
    expect(page.get_by_text("This conversation is closed: the listing has ended.")).to_be_visible()
    expect(page.locator(".wm-reply textarea[name=body]")).to_have_count(0)
    page.screenshot(path=DOCS_IMAGES / "listing-conversation-closed.png", full_page=True)
    page.get_by_role("link", name="Contact the seller about another listing").click()
    expect(page).to_have_url(live_server.url + listing.get_parent().url)
