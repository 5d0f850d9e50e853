"""The sandbox's contact form (``ContactPage``, with ``MessengerFormMixin``) delivering
threads instead of email, recipients with and without an account, and bad input."""

import logging
import re

import pytest
from django.core import checks, mail
from django.urls import reverse
from wagtail.contrib.forms.models import FormSubmission

from sandbox.marketplace.models import ContactPage, FormField
from wagtail_messenger.actors import Actor
from wagtail_messenger.models import (
    AccessToken,
    ContactPreference,
    Message,
    MessengerSettings,
    Participant,
    Thread,
)
from wagtail_messenger.services import access, invitations, moderation

pytestmark = pytest.mark.django_db

FIELDS = [("Name", "singleline"), ("Email", "email"), ("Message", "multiline")]
VISITOR = {
    "name": "Gustave Roux",
    "email": "Gus@Example.com",
    "message": "Is the bike\nstill there?",
}
FIRST_MESSAGE = "Name: Gustave Roux\nEmail: Gus@Example.com\nMessage: Is the bike\nstill there?"


@pytest.fixture
def make_user(make_user):
    """Accounts here proved their address (they opened an invitation once, recorded as
    ``ProvenAddress``): contact forms deliver to proven addresses only, which
    tests/test_identity.py covers."""
    from wagtail_messenger.models import ProvenAddress

    def make(username=None, **extra):
        user = make_user(username, **extra)
        if user.email:
            ProvenAddress.objects.record(user, user.email.lower())
        return user

    return make


@pytest.fixture
def make_contact_page(site):
    def make(parent=None, to_address="seller@example.com", fields=FIELDS, slug="contact"):
        page = (parent or site.root_page).add_child(
            instance=ContactPage(
                title="Contact us",
                slug=slug,
                thank_you_text="<p>Thanks, we will get back to you.</p>",
                to_address="",
                from_address="forms@example.com",
                subject="Contact form",
            )
        )
        for order, (label, field_type) in enumerate(fields):
            FormField.objects.create(
                page=page, sort_order=order, label=label, field_type=field_type, required=True
            )
        # Set without Wagtail's validator, so malformed addresses can be tested too.
        ContactPage.objects.filter(pk=page.pk).update(to_address=to_address)
        page.refresh_from_db()
        return page

    return make


@pytest.fixture
def contact_page(make_contact_page):
    return make_contact_page()


@pytest.fixture
def conf(site):
    conf = MessengerSettings.for_site(site)
    conf.contact_forms_deliver_messages = True
    conf.save()
    return conf


@pytest.fixture
def submit(client, django_capture_on_commit_callbacks):
    """Post the form like a browser; after-commit work (emails) runs."""

    def post(page, data=VISITOR):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(page.url, data)
        assert response.status_code == 200
        return response

    return post


def sent_to(address):
    return [m for m in mail.outbox if address in m.to]


def form_emails():
    """Wagtail's own form emails (their subject is the page's ``subject``), as opposed
    to the messenger's notifications and links."""
    return [m for m in mail.outbox if m.subject == "Contact form"]


# -- the setting ---------------------------------------------------------------------------


def test_setting_on_starts_a_thread_instead_of_emailing(conf, contact_page, seller, submit):
    response = submit(contact_page)

    assert b"Thanks, we will get back to you." in response.content, "Wagtail's landing page"
    assert FormSubmission.objects.filter(page=contact_page).count() == 1
    assert form_emails() == [], "the recipient gets a message, not the form's email"
    thread = Thread.objects.get()
    assert thread.origin == Thread.Origin.CONTACT_FORM
    assert thread.subject == "Contact form"
    message = thread.messages.get()
    assert message.body == FIRST_MESSAGE, "label: value lines in form order"
    assert [f["label"] for f in message.data["fields"]] == ["Name", "Email", "Message"]
    assert message.data["form_submission"] == FormSubmission.objects.get().pk
    sender = message.sender
    assert (sender.kind, sender.name, sender.email) == ("guest", "Gustave Roux", "gus@example.com")
    seller_row = thread.participants.get(user=seller)
    assert seller_row.unread_count == 1
    [notification] = sent_to("seller@example.com")  # the messenger's own, about the thread
    assert thread.get_absolute_url() in notification.body
    seen = access.visible_messages(Actor.for_user(seller), thread)
    assert list(seen) == [message]


def test_guest_sender_gets_a_private_link(conf, contact_page, seller, submit):
    submit(contact_page)

    [link_mail] = sent_to("gus@example.com")
    assert "/messages/link/" in link_mail.body
    assert AccessToken.objects.filter(
        email="gus@example.com", purpose=AccessToken.Purpose.GUEST
    ).exists()


def test_setting_off_emails_exactly_as_wagtail(site, contact_page, seller, submit):
    submit(contact_page)

    assert not Thread.objects.exists()
    assert FormSubmission.objects.count() == 1
    [email] = mail.outbox
    # What Wagtail's EmailFormMixin sends: subject, "Label: value" lines, from_address,
    # to_address and its Auto-Submitted header.
    assert email.subject == "Contact form"
    assert email.body == FIRST_MESSAGE
    assert email.to == ["seller@example.com"]
    assert email.from_email == "forms@example.com"
    assert email.extra_headers["Auto-Submitted"] == "auto-generated"


def test_logged_in_sender_writes_as_themselves(conf, contact_page, seller, buyer, client, submit):
    client.force_login(buyer)
    submit(contact_page)

    thread = Thread.objects.get()
    assert thread.messages.get().sender.user == buyer
    assert not AccessToken.objects.exists(), "no private link for a user"


def test_form_under_a_listing_is_about_it_and_reaches_its_seller(
    conf, listing, seller, make_contact_page, submit
):
    page = make_contact_page(parent=listing, to_address="", slug="ask")
    submit(page)

    thread = Thread.objects.get()
    assert thread.listing_id == listing.pk
    assert thread.listing_title == "Road bike"
    assert thread.participants.get(is_initiator=False).user == seller
    assert not form_emails()


def test_form_page_sharing_nothing_with_a_listing_has_no_listing(conf, contact_page, submit):
    submit(contact_page)
    assert Thread.objects.get().listing is None


# -- recipients --------------------------------------------------------------------------


def test_recipient_address_matches_an_account_case_insensitively(
    conf, make_contact_page, seller, submit
):
    page = make_contact_page(to_address="SELLER@example.COM")
    submit(page)
    assert Thread.objects.get().participants.get(is_initiator=False).user == seller


def test_shared_address_goes_to_the_active_account_that_logged_in_last(make_user):
    from django.utils import timezone

    old = make_user("old", email="shop@example.com")
    recent = make_user("recent", email="Shop@example.com")
    make_user("gone", email="shop@example.com", is_active=False, last_login=timezone.now())
    old.last_login = timezone.now() - timezone.timedelta(days=3)
    old.save()
    recent.last_login = timezone.now() - timezone.timedelta(hours=1)
    recent.save()
    assert invitations.user_for_address("shop@EXAMPLE.com") == recent
    assert invitations.user_for_address("nobody@example.com") is None


def test_recipient_without_account_is_invited_without_the_message_text(
    conf, make_contact_page, submit
):
    conf.email_previews = False
    conf.save()
    page = make_contact_page(to_address="newseller@example.com")
    submit(page)

    thread = Thread.objects.get()
    invitee = thread.participants.get(is_initiator=False)
    assert (invitee.kind, invitee.email, invitee.user) == ("invitee", "newseller@example.com", None)
    [invitation] = sent_to("newseller@example.com")
    assert "A message is waiting for you" in invitation.subject
    assert "/messages/claim/" in invitation.body
    for part in [invitation.body, invitation.alternatives[0][0]]:
        assert "Is the bike" not in part and "Gustave" not in part, "nothing leaks"


def test_invitation_shows_a_preview_when_the_site_allows(conf, make_contact_page, submit):
    page = make_contact_page(to_address="newseller@example.com")
    submit(page)
    [invitation] = sent_to("newseller@example.com")
    assert "Gustave Roux" in invitation.body and "Is the bike" in invitation.body


def test_second_message_in_the_thread_sends_no_second_invitation(
    conf, listing, make_contact_page, submit, client, buyer
):
    client.force_login(buyer)  # a proven sender continues their thread about the listing
    page = make_contact_page(parent=listing, to_address="newseller@example.com", slug="ask")
    submit(page)
    submit(page, {**VISITOR, "message": "Any news?"})
    assert Thread.objects.get().message_count == 2
    assert len(sent_to("newseller@example.com")) == 1


def test_an_anonymous_visitor_typing_an_email_never_joins_that_persons_thread(
    conf, listing, make_contact_page, submit
):
    page = make_contact_page(parent=listing, to_address="newseller@example.com", slug="ask")
    submit(page)
    submit(page, {**VISITOR, "message": "Written by someone typing the same email"})
    first, second = Thread.objects.order_by("pk")
    assert (first.message_count, second.message_count) == (1, 1)


def claim_path(invitation):
    url = re.search(r"https?://\S+/messages/claim/\S+/", invitation.body).group(0)
    return url.split("testserver", 1)[-1]


def test_claim_flow_gives_the_waiting_threads_to_the_account(
    conf, make_contact_page, make_user, client, submit
):
    page = make_contact_page(to_address="newseller@example.com")
    submit(page)
    [invitation] = sent_to("newseller@example.com")
    path = claim_path(invitation)

    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == reverse("wagtail_messenger:claim"), "the token leaves the URL"

    response = client.get(response["Location"])
    assert b"Log in" in response.content and b"Create an account" in response.content
    assert b"/accounts/signup/?next=%2Fmessages%2Fclaim%2F" in response.content

    # The seller registers with another address: opening the link proved this one.
    newcomer = make_user("newcomer", email="private@example.org")
    client.force_login(newcomer)
    assert Thread.objects.visible_to(Actor.for_user(newcomer)).count() == 0
    response = client.get(reverse("wagtail_messenger:claim"))
    assert b"Add them to my account" in response.content
    response = client.post(reverse("wagtail_messenger:claim"))

    thread = Thread.objects.get()
    assert response.status_code == 302
    assert response["Location"] == thread.get_absolute_url()
    row = thread.participants.get(is_initiator=False)
    assert (row.kind, row.user, row.unread_count) == ("user", newcomer, 1)
    assert list(Thread.objects.visible_to(Actor.for_user(newcomer))) == [thread]
    # The link is spent.
    assert client.get(path).status_code == 404


def test_claim_link_alone_changes_nothing_for_a_logged_in_user(
    conf, make_contact_page, make_user, client, submit
):
    page = make_contact_page(to_address="newseller@example.com")
    submit(page)
    client.force_login(make_user("someone"))
    client.get(claim_path(sent_to("newseller@example.com")[0]))
    client.get(reverse("wagtail_messenger:claim"))
    assert Participant.objects.filter(kind="invitee").count() == 1, "claiming needs a POST"


def test_invalid_or_missing_claim_links_explain_themselves(client, db):
    response = client.get(reverse("wagtail_messenger:claim_link", args=["forged"]))
    assert response.status_code == 404
    assert b"invalid or has expired" in response.content
    response = client.get(reverse("wagtail_messenger:claim"))
    assert response.status_code == 404
    assert b"invitation email" in response.content


# -- bad input -----------------------------------------------------------------------------


def test_each_recipient_gets_their_own_thread(conf, make_contact_page, seller, make_user, submit):
    make_user("partner", email="partner@example.com")
    page = make_contact_page(to_address="seller@example.com, partner@example.com")
    submit(page)
    recipients = set(
        Participant.objects.filter(is_initiator=False).values_list("user__username", flat=True)
    )
    assert recipients == {"seller", "partner"}
    assert Thread.objects.count() == 2
    assert not form_emails()


def test_malformed_addresses_are_logged_and_skipped(
    conf, make_contact_page, seller, submit, caplog
):
    page = make_contact_page(to_address="seller@example.com, not an address")
    with caplog.at_level(logging.WARNING, logger="wagtail_messenger.contact_forms"):
        submit(page)
    assert Thread.objects.count() == 1
    assert FormSubmission.objects.count() == 1
    assert "'not an address' is not valid" in caplog.text
    assert not [m for m in mail.outbox if "not an address" in m.to]


def test_no_valid_address_falls_back_to_wagtails_email(conf, make_contact_page, submit, caplog):
    page = make_contact_page(to_address="broken-address")
    submit(page)
    assert not Thread.objects.exists()
    assert FormSubmission.objects.count() == 1
    assert [m.to for m in mail.outbox] == [["broken-address"]]


def test_anonymous_submission_of_a_form_without_email_field_is_emailed(
    conf, make_contact_page, seller, submit
):
    page = make_contact_page(fields=[("Name", "singleline"), ("Message", "multiline")])
    submit(page, {"name": "Gus", "message": "Call me"})
    assert not Thread.objects.exists(), "nobody could read an answer"
    [email] = mail.outbox
    assert email.to == ["seller@example.com"] and email.body == "Name: Gus\nMessage: Call me"
    assert FormSubmission.objects.count() == 1


def test_form_without_email_field_still_delivers_for_a_logged_in_user(
    conf, make_contact_page, seller, buyer, client, submit
):
    page = make_contact_page(fields=[("Name", "singleline"), ("Message", "multiline")])
    client.force_login(buyer)
    submit(page, {"name": "Bea", "message": "Call me"})
    assert Thread.objects.get().messages.get().body == "Name: Bea\nMessage: Call me"
    assert not form_emails()


def test_email_field_with_another_name_is_found_by_its_type(conf, make_contact_page, submit):
    page = make_contact_page(
        fields=[("Your name", "singleline"), ("Reply to", "email"), ("Text", "multiline")]
    )
    submit(page, {"your_name": "Gus", "reply_to": "gus@example.com", "text": "Hi"})
    sender = Message.objects.get().sender
    # "Your name" is a usual name for the sender's name: the visitor is not anonymous.
    assert (sender.email, sender.name) == ("gus@example.com", "Gus")


@pytest.mark.parametrize(
    "fields, data, expected",
    [
        (
            [("Your name", "singleline"), ("Your email", "singleline")],
            {"your_name": "Gus Guest", "your_email": "Gus@Example.com"},
            ("gus@example.com", "Gus Guest"),
        ),
        (
            [("Full name", "singleline"), ("Email address", "email")],
            {"full_name": "  Gus   Guest ", "email_address": "gus@example.com"},
            ("gus@example.com", "Gus Guest"),
        ),
        (
            [("First name", "singleline"), ("Last name", "singleline"), ("Mail", "email")],
            {"first_name": "Gus", "last_name": "Guest", "mail": "gus@example.com"},
            ("gus@example.com", "Gus Guest"),
        ),
        (
            [("Company name", "singleline"), ("Contact name", "singleline"), ("E-mail", "email")],
            {"company_name": "Acme", "contact_name": "Gus", "e_mail": "gus@example.com"},
            ("gus@example.com", "Gus"),
        ),
        (
            [("Company name", "singleline"), ("Email", "email")],
            {"company_name": "Acme", "email": "gus@example.com"},
            ("gus@example.com", "Website visitor"),
        ),
    ],
    ids=["your_name-your_email", "full_name", "first-last", "contact_name", "company_only"],
)
def test_name_and_email_fields_are_found_by_their_usual_names(
    conf, make_contact_page, submit, fields, data, expected
):
    page = make_contact_page(fields=[*fields, ("Message", "multiline")])
    submit(page, {**data, "message": "Hi"})
    sender = Message.objects.get().sender
    assert (sender.email, sender.name) == expected


def test_the_form_page_can_name_its_fields(conf, make_contact_page, submit, monkeypatch):
    monkeypatch.setattr(ContactPage, "messenger_name_field", ("nickname",), raising=False)
    monkeypatch.setattr(ContactPage, "messenger_email_field", "where", raising=False)
    page = make_contact_page(
        fields=[
            ("Nickname", "singleline"),
            ("Where", "singleline"),
            ("Email", "email"),
            ("Message", "multiline"),
        ]
    )
    data = {"nickname": "Gussy", "where": "gus@example.com", "email": "x@example.com"}
    submit(page, {**data, "message": "Hi"})
    sender = Message.objects.get().sender
    assert (sender.email, sender.name) == ("gus@example.com", "Gussy")


def test_recipient_refusing_messages_gets_the_email_instead(
    conf, contact_page, seller, submit, caplog
):
    ContactPreference.objects.create(user=seller, allow_contact=False)
    with caplog.at_level(logging.WARNING, logger="wagtail_messenger.contact_forms"):
        submit(contact_page)
    assert not Thread.objects.exists()
    assert [m.to for m in sent_to("seller@example.com")] == [["seller@example.com"]]
    assert "emailed instead" in caplog.text
    assert FormSubmission.objects.count() == 1


def test_only_the_failed_recipient_is_emailed(conf, make_contact_page, seller, make_user, submit):
    partner = make_user("partner", email="partner@example.com")
    ContactPreference.objects.create(user=partner, allow_contact=False)
    page = make_contact_page(to_address="seller@example.com, partner@example.com")
    submit(page)
    assert Thread.objects.count() == 1
    assert [m.to for m in mail.outbox if m.subject == "Contact form"] == [["partner@example.com"]]


def test_spam_is_held_never_lost_and_invites_only_once_released(
    conf, make_contact_page, moderator, submit, django_capture_on_commit_callbacks
):
    conf.blocked_words = "casino"
    conf.spam_threshold = 3
    conf.save()
    page = make_contact_page(to_address="newseller@example.com")
    submit(page, {**VISITOR, "message": "Best casino bonus"})

    assert FormSubmission.objects.count() == 1
    message = Message.objects.get()
    assert message.state == Message.State.HELD
    assert Participant.objects.get(kind="invitee").unread_count == 0
    assert not sent_to("newseller@example.com"), "held: the recipient hears nothing yet"

    with django_capture_on_commit_callbacks(execute=True):
        moderation.release_message(moderator, message.pk)
    assert len(sent_to("newseller@example.com")) == 1


# -- system checks -------------------------------------------------------------------------


def test_check_w020_names_form_pages_with_invalid_addresses(make_contact_page):
    make_contact_page(to_address="seller@example.com")
    bad = make_contact_page(to_address="seller@example.com, nope", slug="bad")
    found = checks.run_checks(databases=["default"], tags=[checks.Tags.database])
    w020 = [w for w in found if w.id == "wagtail_messenger.W020"]
    assert [w.obj.pk for w in w020] == [bad.pk]
    assert "nope" in w020[0].msg


def test_check_w021_catches_the_mixin_placed_after_abstract_email_form():
    from wagtail.contrib.forms.models import AbstractEmailForm

    from wagtail_messenger.checks import (
        check_contact_form_mixin_order,
        contact_form_mixin_order_warnings,
    )
    from wagtail_messenger.contact_forms import MessengerFormMixin

    assert check_contact_form_mixin_order(None) == [], "the sandbox's order is right"

    class WrongOrderPage(AbstractEmailForm, MessengerFormMixin):
        class Meta:
            abstract = True  # not registered anywhere

    found = contact_form_mixin_order_warnings([WrongOrderPage, ContactPage])
    assert [w.id for w in found] == ["wagtail_messenger.W021"]
    assert "WrongOrderPage" in found[0].msg


def test_form_under_a_listing_nobody_receives_keeps_the_submission_and_says_so(
    conf, make_listing, make_contact_page, submit, caplog
):
    orphan = make_listing("Lamp", owner=None)
    page = make_contact_page(parent=orphan, to_address="", slug="ask")
    with caplog.at_level(logging.ERROR, logger="wagtail_messenger.contact_forms"):
        submit(page)
    assert not Thread.objects.exists()
    assert FormSubmission.objects.filter(page=page).count() == 1
    assert "reached nobody" in caplog.text


def test_invitations_are_sent_once_even_when_the_task_runs_again(conf, make_contact_page, submit):
    page = make_contact_page(to_address="newseller@example.com")
    submit(page)
    message = Message.objects.get()
    assert invitations.send_invitations(message.pk) == 0
    assert len(sent_to("newseller@example.com")) == 1


@pytest.mark.smtp
def test_a_failed_invitation_is_sent_by_the_retry(conf, make_contact_page, client, smtp_server):
    from wagtail_messenger.services.outbox import DeliveryFailed

    page = make_contact_page(to_address="newseller@example.com")
    client.post(page.url, VISITOR)  # after-commit work does not run: the task is ours to run
    message = Message.objects.get()

    smtp_server.fail_next(1)
    with pytest.raises(DeliveryFailed, match="451"):
        invitations.send_invitations(message.pk)
    assert smtp_server.messages == []

    assert invitations.send_invitations(message.pk) == 1
    assert invitations.send_invitations(message.pk) == 0
    assert [envelope.rcpt_tos for envelope in smtp_server.messages] == [["newseller@example.com"]]
    # The retry carried the link the failed attempt had made: one token, and it works.
    token = AccessToken.objects.get(purpose=AccessToken.Purpose.INVITATION)
    link = re.search(rb"/claim/([\w-]+)/", smtp_server.messages[0].content).group(1).decode()
    assert AccessToken.objects.valid(link, AccessToken.Purpose.INVITATION) == token
    assert FormSubmission.objects.count() == 1


def test_claiming_a_thread_one_already_takes_part_in_merges_the_rows(
    conf, make_contact_page, buyer, client, submit
):
    client.force_login(buyer)
    submit(make_contact_page(to_address="newseller@example.com"))
    thread = Thread.objects.get()
    assert invitations.claim(buyer, "NewSeller@example.com") == [thread.pk]
    assert list(thread.participants.values_list("kind", "user")) == [("user", buyer.pk)]


def test_an_unexpected_failure_while_delivering_falls_back_to_the_email(
    conf, contact_page, seller, submit, caplog
):
    from wagtail import hooks

    def broken_site_hook(page, request):
        if request is None:  # the form's own listing lookup (page rendering still works)
            raise RuntimeError("a bug in the site's hook")
        return None

    with (
        hooks.register_temporarily("wagtail_messenger_is_listing", broken_site_hook),
        caplog.at_level(logging.ERROR, logger="wagtail_messenger.contact_forms"),
    ):
        response = submit(contact_page)
    assert b"Thanks, we will get back to you." in response.content
    assert FormSubmission.objects.count() == 1
    assert not Thread.objects.exists()
    assert [m.to for m in form_emails()] == [["seller@example.com"]]
    assert "emailed instead" in caplog.text and "a bug in the site's hook" in caplog.text
