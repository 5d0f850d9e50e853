"""The live thread page in a real browser: a message delivered late with a lower id (a
held one released after the reader's own reply) still appears, and the page marks the
thread read by POST once it is visible, not by being fetched."""

import re

import pytest

from wagtail_messenger.models import Message, MessengerSettings, Participant
from wagtail_messenger.services import conversations, moderation
from wagtail_messenger.services.parties import Party

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_page_gets_a_late_message_and_marks_read_when_visible(
    page, live_server, site, buyer, seller, moderator, settings
):
    from playwright.sync_api import expect

    settings.WAGTAILMESSENGER_POLL_INTERVAL = 1
    MessengerSettings.objects.update_or_create(
        site=site, defaults={"blocked_words": "casino", "spam_threshold": 1}
    )
    thread = conversations.start_thread(
        sender=Party.for_user(buyer),
        recipient=Party.for_user(seller),
        body="Still for sale?",
        site=site,
    ).thread
    held = conversations.post_message(
        actor=_actor(buyer), thread=thread, body="casino aside: can you ship?"
    ).message
    assert held.state == Message.State.HELD
    row = Participant.objects.filter(thread=thread, user=seller)
    assert row.get().unread_count == 1

    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill("seller")
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name=re.compile("log in", re.I)).click()
    page.goto(live_server.url + thread.get_absolute_url())
    expect(page.locator(".wm-messages")).to_contain_text("Still for sale?")
    page.wait_for_function("document.visibilityState === 'visible'")
    _wait_for(lambda: row.get().unread_count == 0)  # the page posted what it showed

    page.locator(".wm-reply textarea[name=body]").fill("Yes, it is.")
    page.locator(".wm-reply [data-wm-submit]").click()
    expect(page.locator(".wm-messages")).to_contain_text("Yes, it is.")
    moderation.release_message(moderator, held.pk)  # its id is lower than the reply's
    expect(page.locator(".wm-messages")).to_contain_text("can you ship?", timeout=10000)
    assert page.locator(f'[data-id="{held.pk}"]').count() == 1
    _wait_for(lambda: row.get().unread_count == 0)


def _actor(user):
    from wagtail_messenger.actors import Actor

    return Actor.for_user(user)


def _wait_for(condition, timeout=10.0):
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
