"""A moderator, in a real browser, takes a conversation, writes a staff note and filters
the review queue by "assigned to me". Takes the screenshots of docs/moderation.md."""

from pathlib import Path

import pytest

from wagtail_messenger.actors import Actor
from wagtail_messenger.services import participation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


def test_moderator_takes_a_thread_and_notes_it(
    page, live_server, start, make_listing, make_user, moderator, seller, buyer
):
    from playwright.sync_api import expect

    bike = make_listing("Road bike")
    posted = start(buyer, seller, body="Pay me outside the site, it is cheaper", listing=bike)
    participation.report_message(Actor.for_user(seller), posted.message.pk, reason="Off-site")
    other = start(make_user("carol"), seller, body="Is the lamp still there?")
    participation.report_message(Actor.for_user(seller), other.message.pk, reason="Rude")

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill(moderator.username)
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("conversations assigned to you")).to_be_visible()

    page.goto(f"{live_server.url}/admin/messenger/threads/inspect/{posted.thread.pk}/")
    page.get_by_role("button", name="Assign to me").click()
    expect(page.get_by_text("The conversation is assigned to you.")).to_be_visible()
    page.get_by_label("New note").fill("Asked the buyer to keep payment on the site. Watch.")
    page.get_by_role("button", name="Add note").click()
    expect(page.get_by_text("The note was added. Only moderators see it.")).to_be_visible()
    expect(page.locator("[data-staff-notes]")).to_contain_text("Asked the buyer")
    DOCS_IMAGES.mkdir(exist_ok=True)
    page.locator("[data-assignment]").scroll_into_view_if_needed()
    page.screenshot(path=DOCS_IMAGES / "moderation-notes-assignment.png", full_page=True)

    page.goto(f"{live_server.url}/admin/messenger/queue/?assignee=me")
    expect(page.get_by_text("Pay me outside the site")).to_be_visible()
    expect(page.get_by_text("Is the lamp still there?")).to_have_count(0)
    page.screenshot(path=DOCS_IMAGES / "moderation-queue-assigned-to-me.png", full_page=True)
