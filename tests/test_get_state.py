"""GET and HEAD change nothing they need not (issue 20): mail scanners prefetch links.

The guest link writes only what lets its holder in on GET, nothing on HEAD; the mute
link mutes only on the RFC 8058 one-click POST or the page's CSRF-checked button."""

import re

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from wagtail_messenger.models import AccessToken, Participant
from wagtail_messenger.services import guests, notifications
from wagtail_messenger.services.parties import Party

LINK_RE = re.compile(r"https?://[^/\s]+(/messages/link/[\w-]+/)")


@pytest.fixture
def guest_thread(start, seller, listing):
    return start(
        Party.guest("Gail", "gail@example.com"), seller, listing=listing, confirmed=False
    ).thread


@pytest.fixture
def mute_url(guest_thread):
    row = guest_thread.participants.get(user__isnull=False)
    return reverse("wagtail_messenger:mute", args=[notifications.mute_token(row)]), row


def test_head_on_a_guest_link_writes_nothing(guest_thread):
    link = LINK_RE.search(guests.issue_link("gail@example.com", thread=guest_thread)).group(1)
    sessions = Session.objects.count()
    scanner = Client()
    response = scanner.head(link)
    assert response.status_code == 302
    assert response["Location"] == guest_thread.get_absolute_url()
    assert AccessToken.objects.get().used_at is None
    assert not guest_thread.participants.get(kind="guest").email_verified
    assert Session.objects.count() == sessions
    assert scanner.head("/messages/link/not-a-token/").status_code == 410


def test_get_on_a_guest_link_lets_the_holder_in(guest_thread):
    link = LINK_RE.search(guests.issue_link("gail@example.com", thread=guest_thread)).group(1)
    guest = Client()
    response = guest.get(link)
    assert response["Location"] == guest_thread.get_absolute_url()
    assert guest.get(guest_thread.get_absolute_url()).status_code == 200
    assert guest.post(link).status_code == 405


def test_mute_get_shows_a_button_and_changes_nothing(mute_url):
    url, row = mute_url
    page = Client().get(url)
    assert page.status_code == 200
    assert b'<form method="post"' in page.content
    assert b"csrfmiddlewaretoken" in page.content
    row.refresh_from_db()
    assert not row.muted


def test_mute_post_without_one_click_body_or_csrf_token_is_refused(mute_url):
    url, row = mute_url
    forged = Client(enforce_csrf_checks=True)
    assert forged.post(url).status_code == 403
    assert forged.post(url, {"List-Unsubscribe": "yes"}).status_code == 403
    row.refresh_from_db()
    assert not row.muted


def test_mute_with_the_pages_button_is_csrf_checked_and_mutes(mute_url):
    url, row = mute_url
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(url).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    response = browser.post(url, {"csrfmiddlewaretoken": token})
    assert response.status_code == 200
    assert Participant.objects.get(pk=row.pk).muted


def test_one_click_post_mutes_without_a_csrf_token(mute_url):
    url, row = mute_url
    response = Client(enforce_csrf_checks=True).post(
        url, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    assert Participant.objects.get(pk=row.pk).muted


def test_head_on_an_invitation_link_writes_nothing(guest_thread):
    from wagtail_messenger.services import invitations

    _row, url = invitations.issue_invitation("ivy@example.com", thread=guest_thread)
    path = re.search(r"https?://[^/]+(/\S+)", url).group(1)
    sessions = Session.objects.count()
    response = Client().head(path)
    assert response.status_code == 302
    assert AccessToken.objects.get(email="ivy@example.com").used_at is None
    assert Session.objects.count() == sessions
