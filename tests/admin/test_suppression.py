"""Bounces and complaints: real Postmark tracking payloads posted to anymail's tracking
webhook stop mail to the address; moderators see why and can send mail to it again."""

import base64
import json

import pytest
from anymail.signals import AnymailTrackingEvent
from django.contrib.auth.models import Group
from django.urls import reverse
from wagtail.models import ModelLogEntry

from wagtail_messenger.actors import Actor
from wagtail_messenger.models import OutboxEmail, SuppressedAddress
from wagtail_messenger.services import conversations, participation, suppression
from wagtail_messenger.services.parties import Party

pytestmark = pytest.mark.django_db

AUTH = "Basic " + base64.b64encode(b"inbound:tests-only-secret").decode()
STOPPED = reverse("messenger_suppressed:index")


def postmark_event(client, record_type, email, **fields):
    payload = {
        "RecordType": record_type,
        "ID": 42,
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Email": email,
        "BouncedAt": "2026-12-01T10:00:00Z",
        "Subject": "Buyer sent you a message about Road bike",
        **fields,
    }
    return client.post(
        "/anymail/postmark/tracking/",
        data=json.dumps(payload),
        content_type="application/json",
        HTTP_AUTHORIZATION=AUTH,
    )


def hard_bounce(client, email):
    return postmark_event(
        client,
        "Bounce",
        email,
        Type="HardBounce",
        TypeCode=1,
        Description="The server was unable to deliver your message (ex: unknown user).",
        Details="smtp;550 5.1.1 The email account that you tried to reach does not exist.",
    )


def to(mailoutbox, address):
    return [m for m in mailoutbox if address in m.to or address in m.bcc]


def test_a_hard_bounce_stops_notifications_to_that_address(
    client, send, start, buyer, seller, listing, mailoutbox
):
    assert hard_bounce(client, "Seller@Example.com").status_code == 200
    (row,) = SuppressedAddress.objects.all()
    assert (row.email, row.reason, row.esp) == ("seller@example.com", "bounced", "Postmark")
    assert "unknown user" in row.detail

    posted = send(start, buyer, seller, listing=listing)
    assert to(mailoutbox, "seller@example.com") == []
    email = OutboxEmail.objects.get(kind=OutboxEmail.Kind.NOTIFICATION)
    assert email.state == OutboxEmail.State.DROPPED
    # The other way still works.
    send(
        conversations.post_message,
        actor=Actor.for_user(seller),
        thread=posted.thread,
        body="Yes, still here.",
    )
    assert len(to(mailoutbox, "buyer@example.com")) == 1


def test_a_soft_bounce_changes_nothing(client, send, start, buyer, seller, listing, mailoutbox):
    postmark_event(
        client,
        "Bounce",
        "seller@example.com",
        Type="SoftBounce",
        TypeCode=4096,
        Description="The server could not temporarily deliver your message.",
        Details="smtp;452 4.2.2 Mailbox full",
    )
    assert not SuppressedAddress.objects.exists()
    send(start, buyer, seller, listing=listing)
    assert len(to(mailoutbox, "seller@example.com")) == 1


@pytest.mark.parametrize(
    ("esp_event", "mta_response", "soft"),
    [
        ({"bounce": {"bounceType": "Transient"}}, "", True),  # Amazon SES
        ({"bounce": {"bounceType": "Permanent"}}, "", False),
        ({"severity": "temporary"}, "", True),  # Mailgun
        ({}, "421 4.4.2 Connection dropped", True),
        ({}, "550 5.1.1 No such user", False),
    ],
)
def test_soft_and_hard_bounces_of_other_providers(esp_event, mta_response, soft):
    event = AnymailTrackingEvent(
        event_type="bounced",
        recipient="someone@example.com",
        esp_event=esp_event,
        mta_response=mta_response,
    )
    assert suppression.is_soft_bounce(event) is soft
    assert (suppression.record(event, "Amazon SES") is None) is soft


def test_a_complaint_stops_mail_and_outranks_a_later_bounce(client):
    postmark_event(client, "SpamComplaint", "buyer@example.com", Type="SpamComplaint")
    hard_bounce(client, "buyer@example.com")
    (row,) = SuppressedAddress.objects.all()
    assert (row.reason, row.events) == ("complained", 2)


def test_a_team_member_who_bounced_is_left_out_the_others_get_it(
    client, send, start, buyer, make_user, listing, mailoutbox
):
    sales = Group.objects.create(name="Sales")
    sales.user_set.add(make_user("alice"), make_user("bob"))
    hard_bounce(client, "bob@example.com")
    send(start, buyer, Party.team(sales), listing=listing)
    (email,) = to(mailoutbox, "alice@example.com")
    assert email.bcc == ["alice@example.com"]


def test_the_moderator_sees_why_and_can_send_mail_again(
    client, send, start, buyer, seller, listing, moderator, mailoutbox
):
    posted = send(start, buyer, seller, listing=listing)
    hard_bounce(client, "seller@example.com")
    client.force_login(moderator)
    page = client.get(reverse("messenger_threads:inspect", args=[posted.thread.pk]))
    assert "No emails: Hard bounce" in page.content.decode()
    listing_page = client.get(STOPPED).content.decode()
    assert "seller@example.com" in listing_page and "Hard bounce" in listing_page

    row = SuppressedAddress.objects.get()
    delete_url = reverse("messenger_suppressed:delete", args=[row.pk])
    confirm = client.get(delete_url).content.decode()
    assert "Send emails to seller@example.com again?" in confirm
    assert client.post(delete_url).status_code == 302
    assert not SuppressedAddress.objects.exists()
    assert ModelLogEntry.objects.filter(action="wagtail_messenger.resume_email").count() == 1
    # The seller reads the thread (a new round) and is emailed about the next message.
    participation.mark_read(Actor.for_user(seller), [posted.thread.pk])
    mailoutbox.clear()
    send(
        conversations.post_message,
        actor=Actor.for_user(buyer),
        thread=posted.thread,
        body="Are you there?",
    )
    assert len(to(mailoutbox, "seller@example.com")) == 1


def test_people_who_do_not_moderate_do_not_see_the_list(client, make_user):
    client.force_login(make_user("plain"))
    response = client.get(STOPPED)
    assert response.status_code == 302 and "/login/" in response["Location"]
