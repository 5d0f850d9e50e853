"""Every private page and JSON answer of the plugin says ``Cache-Control: private,
no-store`` (issue 20: inbox, archive, search, preferences, thread, compose and guest
pages were cacheable by a shared cache)."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from wagtail_messenger.services import guests, invitations, notifications
from wagtail_messenger.services.parties import Party

LINK_RE = re.compile(r"https?://[^/\s]+(/messages/[\w/-]+/)")


def assert_private(response, what):
    header = response.get("Cache-Control", "")
    parts = {part.strip() for part in header.split(",")}
    assert {"private", "no-store"} <= parts, (what, response.status_code, header)


@pytest.fixture
def scene(start, buyer, seller, listing):
    thread = start(buyer, seller, listing=listing, body="Is it still available?").thread
    guest = start(Party.guest("Gina", "gina@example.com"), seller, listing=listing).thread
    return {"thread": thread, "guest": guest}


def test_every_private_page_and_json_answer_is_private_no_store(client, scene, buyer, listing):
    thread = scene["thread"]
    client.force_login(buyer)
    pages = {
        "inbox": reverse("wagtail_messenger:inbox"),
        "archive": reverse("wagtail_messenger:inbox") + "?view=archive",
        "search": reverse("wagtail_messenger:inbox") + "?q=available",
        "preferences": reverse("wagtail_messenger:preferences"),
        "thread": thread.get_absolute_url(),
        "poll": reverse("wagtail_messenger:poll", args=[thread.pk]) + "?after=0",
        "older": reverse("wagtail_messenger:older", args=[thread.pk]),
        "unread": reverse("wagtail_messenger:unread"),
        "compose": reverse("wagtail_messenger:compose", args=[listing.pk]),
        "compose_sent": reverse("wagtail_messenger:compose_sent", args=[listing.pk]),
        "unknown thread": reverse("wagtail_messenger:thread", args=[thread.pk + 1000]),
    }
    for what, url in pages.items():
        assert_private(
            client.get(url, HTTP_ACCEPT="application/json" if what == "poll" else ""), what
        )
    posts = {
        "reply": (thread.get_absolute_url(), {"body": "Yes"}),
        "action": (reverse("wagtail_messenger:thread_action", args=[thread.pk, "flag"]), {}),
        "bulk": (reverse("wagtail_messenger:bulk_action"), {"action": "archive"}),
    }
    for what, (url, data) in posts.items():
        assert_private(client.post(url, data), what)


def test_guest_pages_are_private_no_store(client, scene):
    guest = scene["guest"]
    link = LINK_RE.search(guests.issue_link("gina@example.com", thread=guest)).group(1)
    assert_private(client.get(reverse("wagtail_messenger:request_link")), "request link")
    assert_private(client.get("/messages/link/not-a-token/"), "invalid guest link")
    response = client.get(link)
    assert_private(response, "guest link")
    assert_private(client.get(response["Location"]), "guest's thread")
    mute = reverse(
        "wagtail_messenger:mute",
        args=[notifications.mute_token(guest.participants.get(kind="guest"))],
    )
    assert_private(client.get(mute), "mute")
    assert_private(Client().get(reverse("wagtail_messenger:claim")), "claim")
    _row, url = invitations.issue_invitation("ivy@example.com", thread=guest)
    assert_private(Client().get(LINK_RE.search(url).group(1)), "claim link")


def test_the_moderation_panel_is_private_no_store(client, scene, moderator):
    client.force_login(moderator)
    for what, url in {
        "threads": reverse("messenger_threads:index"),
        "inspect": reverse("messenger_threads:inspect", args=[scene["thread"].pk]),
        "queue": reverse("messenger_queue:index"),
        "bans": reverse("messenger_bans:index"),
    }.items():
        response = client.get(url)
        assert response.status_code == 200, what
        assert_private(response, what)
