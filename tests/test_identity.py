"""Identity is proven, never typed (issue 20):

- a visitor who types someone's address in the compose form gets a thread that is none
  of that person's conversations, marked "email not confirmed" to the recipient until
  the link emailed to the address is opened;
- an account made with someone's address (not verified) receives none of the
  contact-form messages sent to that address;
- a blocked sender's text is not previewed in the blocker's header widget.
"""

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from wagtail_messenger.actors import GUEST_SESSION_KEY, Actor
from wagtail_messenger.forms import new_key
from wagtail_messenger.models import AccessToken, Participant, ProvenAddress, Thread
from wagtail_messenger.services import conversations, guests, invitations, safety
from wagtail_messenger.services.parties import Party

LINK_RE = re.compile(r"https?://[^/\s]+(/messages/link/[\w-]+/)")


@pytest.fixture(autouse=True)
def emails_run_at_once(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


def compose(client, listing, *, name, email, body, captured):
    url = reverse("wagtail_messenger:compose", args=[listing.pk])
    page = client.get(url)
    key = re.search(r'name="key" value="([^"]+)"', page.content.decode()).group(1)
    with captured(execute=True):
        return client.post(url, {"name": name, "email": email, "body": body, "key": key})


def link_in(message):
    return LINK_RE.search(message.body).group(1)


@pytest.fixture
def owner_thread(start, seller, listing):
    """Olive's own guest conversation, proven by her link (she opened it)."""
    posted = start(
        Party.guest("Olive", "olive@example.com"), seller, listing=listing, sender_proven=True
    )
    return posted.thread


def test_typed_address_is_not_merged_with_the_owners_conversations(
    client, owner_thread, listing, seller, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    response = compose(
        client,
        listing,
        name="Olive",
        email="olive@example.com",
        body="Please send the bike to my new address",
        captured=django_capture_on_commit_callbacks,
    )
    assert response.status_code == 302
    forged = Thread.objects.exclude(pk=owner_thread.pk).get()
    row = forged.participants.get(kind=Participant.Kind.GUEST)
    assert row.email_verified is False

    # Not one of Olive's conversations: her session does not see it, "lost your link?"
    # does not list it, and the composer's session sees nothing of hers.
    olive = Actor.for_guest("olive@example.com")
    assert list(guests.guest_threads("olive@example.com")) == [owner_thread]
    assert not Participant.objects.for_actor(olive).filter(thread=forged).exists()
    assert GUEST_SESSION_KEY not in client.session
    assert client.get(owner_thread.get_absolute_url()).status_code in (302, 404)

    # The seller sees the mark, in the inbox row and in the thread page.
    seller_client = Client()
    seller_client.force_login(seller)
    inbox = seller_client.get(reverse("wagtail_messenger:inbox")).content.decode()
    assert inbox.count("Email not confirmed") == 1
    page = seller_client.get(forged.get_absolute_url()).content.decode()
    assert "email not confirmed" in page
    assert (
        "email not confirmed"
        not in seller_client.get(owner_thread.get_absolute_url()).content.decode()
    )


def test_the_emailed_link_confirms_that_thread_only(
    client, owner_thread, listing, seller, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    compose(
        client,
        listing,
        name="Olive",
        email="olive@example.com",
        body="It is really me this time",
        captured=django_capture_on_commit_callbacks,
    )
    forged = Thread.objects.exclude(pk=owner_thread.pk).get()
    (message,) = [m for m in mail.outbox if "olive@example.com" in m.to]
    link = link_in(message)

    # A mail scanner's HEAD confirms nothing and opens no session.
    scanner = Client()
    assert scanner.head(link).status_code == 302
    assert not forged.participants.get(kind="guest").email_verified
    assert GUEST_SESSION_KEY not in scanner.session
    assert AccessToken.objects.get(thread=forged).used_at is None

    owner = Client()
    response = owner.get(link)
    assert response["Location"] == forged.get_absolute_url()
    assert forged.participants.get(kind="guest").email_verified
    assert owner.get(forged.get_absolute_url()).status_code == 200
    assert set(guests.guest_threads("olive@example.com")) == {owner_thread, forged}

    seller_client = Client()
    seller_client.force_login(seller)
    assert (
        "Email not confirmed"
        not in seller_client.get(reverse("wagtail_messenger:inbox")).content.decode()
    )


def test_a_proven_guest_continues_her_conversation(
    client, owner_thread, listing, django_capture_on_commit_callbacks
):
    link = LINK_RE.search(guests.issue_link("olive@example.com", thread=owner_thread)).group(1)
    client.get(link)
    url = reverse("wagtail_messenger:compose", args=[listing.pk])
    # "Send message" now opens her conversation instead of a blank form ...
    page = client.get(url)
    assert (page.status_code, page["Location"]) == (302, owner_thread.get_absolute_url())
    # ... and a compose form still open in another tab joins it too.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"body": "One more question", "key": new_key()})
    assert response.status_code == 302
    assert Thread.objects.get() == owner_thread
    assert owner_thread.messages.count() == 2


def test_logging_in_claims_only_confirmed_guest_rows(
    client, owner_thread, listing, make_user, django_capture_on_commit_callbacks
):
    compose(
        Client(),
        listing,
        name="Olive",
        email="olive@example.com",
        body="forged",
        captured=django_capture_on_commit_callbacks,
    )
    forged = Thread.objects.exclude(pk=owner_thread.pk).get()
    olive = make_user("olive", email="olive@example.com")
    claimed = guests.claim_guest_threads(olive, "olive@example.com")
    assert claimed == 1
    assert owner_thread.participants.filter(user=olive).exists()
    assert not forged.participants.filter(user=olive).exists()
    assert ProvenAddress.objects.filter(user=olive, email="olive@example.com").exists()


# -- contact forms and accounts made with someone's address ------------------------------


def test_an_unverified_signup_does_not_receive_mail_sent_to_that_address(
    make_user, seller, site, django_capture_on_commit_callbacks
):
    impostor = make_user("impostor", email="ivy@example.com")  # signed up, never proved it
    assert invitations.user_for_address("ivy@example.com") is None
    party = invitations.party_for_address("ivy@example.com")
    assert party.kind == Participant.Kind.INVITEE
    with django_capture_on_commit_callbacks(execute=True):
        posted = conversations.start_thread(
            sender=Party.for_user(seller), recipient=party, body="Your order", site=site
        )
    assert not posted.thread.participants.filter(user=impostor).exists()
    assert not Participant.objects.for_actor(Actor.for_user(impostor)).exists()


def test_the_invitation_link_proves_the_address_and_routes_the_next_messages(
    make_user, seller, site
):
    ivy = make_user("ivy", email="ivy@example.com")
    first = conversations.start_thread(
        sender=Party.for_user(seller),
        recipient=invitations.party_for_address("ivy@example.com"),
        body="Your order",
        site=site,
    )
    _row, url = invitations.issue_invitation("ivy@example.com", thread=first.thread)
    client = Client()
    client.force_login(ivy)
    client.get(re.search(r"https?://[^/]+(/\S+)", url).group(1))
    client.post(reverse("wagtail_messenger:claim"))
    assert first.thread.participants.filter(user=ivy).exists()
    assert invitations.user_for_address("ivy@example.com") == ivy


def test_allauth_verified_addresses_route_to_their_account(settings, make_user):
    """Without allauth installed there is nothing to honour (the sandbox has none)."""
    assert invitations.allauth_verified_user_ids("someone@example.com") is None
    assert invitations.user_for_address("seller@example.com") is None


# -- a blocked sender in the header widget -----------------------------------------------


def test_a_blocked_senders_text_is_not_previewed_in_the_widget(
    client, start, buyer, seller, listing, actor
):
    thread = start(buyer, seller, listing=listing, body="Hello, is it still available?").thread
    conversations.post_message(actor=actor(seller), thread=thread, body="Yes it is")
    safety.block(actor(seller), thread.participants.get(user=buyer).pk)
    conversations.post_message(actor=actor(buyer), thread=thread, body="You idiot, answer me")
    client.force_login(seller)
    data = client.get(reverse("wagtail_messenger:unread") + "?threads=1").json()
    (row,) = data["threads"]
    assert "idiot" not in str(data)
    assert row["preview"] == "", "as in the inbox row: what reached the reader, or nothing"
    assert row["from"] == ""
    inbox = client.get(reverse("wagtail_messenger:inbox")).content.decode()
    assert "idiot" not in inbox


def test_a_typed_name_is_not_the_proven_guests_name(
    client, owner_thread, make_listing, django_capture_on_commit_callbacks
):
    other_listing = make_listing("Tent")
    compose(
        Client(),
        other_listing,
        name="Evil Olive",
        email="olive@example.com",
        body="forged",
        captured=django_capture_on_commit_callbacks,
    )
    client.get(LINK_RE.search(guests.issue_link("olive@example.com", thread=owner_thread))[1])
    compose(
        client,
        other_listing,
        name="",
        email="",
        body="Is the tent waterproof?",
        captured=django_capture_on_commit_callbacks,
    )
    mine = Participant.objects.get(
        kind="guest", email="olive@example.com", email_verified=True, thread__listing=other_listing
    )
    assert mine.name == "Olive"
