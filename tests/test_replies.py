"""Reply by email: the notification's Reply-To, and replies arriving through
django-anymail's inbound webhooks (real provider payloads posted to the real URLs).

The seller answers a guest from the notification email, the guest sees the answer on
the thread page; what is not a reply (robots, strangers, expired addresses) posts
nothing and gets at most one polite notice.
"""

import base64
import hashlib
import hmac
import io
import json
import re
import time
import uuid
from datetime import timedelta
from email.message import EmailMessage

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.urls import resolve
from django.utils import timezone

from wagtail_messenger.models import (
    Message,
    MessengerSettings,
    OutboxEmail,
    Participant,
    ReplyAddress,
    Thread,
)
from wagtail_messenger.services import conversations, outbox, replies
from wagtail_messenger.services.parties import Party

pytestmark = pytest.mark.django_db

DOMAIN = "reply.market.example"
AUTH = "Basic " + base64.b64encode(b"inbound:tests-only-secret").decode()


def png_bytes():
    from wagtail.images.tests.utils import get_test_image_file

    return get_test_image_file().file.getvalue()


@pytest.fixture(autouse=True)
def replies_on(settings):
    settings.WAGTAILMESSENGER_REPLY_DOMAIN = DOMAIN


@pytest.fixture
def guest_thread(send, start, seller, listing, mailoutbox):
    """Gina, a guest, asks the seller about the listing; the seller is emailed."""
    posted = send(start, Party.guest("Gina", "gina@example.com"), seller, listing=listing)
    return posted.thread


def reply_to_of(mailoutbox, address):
    (email,) = [m for m in mailoutbox if address in m.to or address in m.bcc]
    return email, email.message()["Reply-To"]


def quoted(
    notification,
    answer,
    attribution="On Tue, 1 Dec 2026 at 10:02, Market <noreply@example.com> wrote:",
):
    """What a mail client sends: the answer, then the notification quoted."""
    quote = "\n".join(f"> {line}" for line in notification.body.splitlines())
    return f"{answer}\n\n{attribution}\n{quote}\n"


def postmark(to, sender, text, *, html="", headers=(), attachments=(), message_id=None):
    message_id = message_id or f"<{uuid.uuid4().hex}@mail.example>"
    return {
        "FromName": "Someone",
        "From": sender,
        "FromFull": {"Email": sender, "Name": "Someone", "MailboxHash": ""},
        "To": to,
        "ToFull": [{"Email": to, "Name": "", "MailboxHash": ""}],
        "CcFull": [],
        "BccFull": [],
        "OriginalRecipient": to,
        "Subject": "Re: a message about Road bike",
        "MessageID": str(uuid.uuid4()),
        "Date": "Tue, 1 Dec 2026 10:05:00 +0000",
        "TextBody": text,
        "HtmlBody": html,
        "StrippedTextReply": "",
        "Headers": [
            {"Name": "Return-Path", "Value": f"<{sender}>"},
            {"Name": "Message-ID", "Value": message_id},
            *({"Name": n, "Value": v} for n, v in headers),
        ],
        "Attachments": [
            {
                "Name": name,
                "Content": base64.b64encode(content).decode(),
                "ContentType": content_type,
                "ContentLength": len(content),
            }
            for name, content, content_type in attachments
        ],
    }


def post_postmark(client, payload):
    return client.post(
        "/anymail/postmark/inbound/",
        data=json.dumps(payload),
        content_type="application/json",
        HTTP_AUTHORIZATION=AUTH,
    )


def mime(to, sender, text, *, message_id=None, headers=()):
    email = EmailMessage()
    email["From"] = f"Someone <{sender}>"
    email["To"] = to
    email["Subject"] = "Re: a message about Road bike"
    email["Message-ID"] = message_id or f"<{uuid.uuid4().hex}@mail.example>"
    for name, value in headers:
        email[name] = value
    email.set_content(text)
    return email.as_bytes()


def post_mailgun(client, raw):
    timestamp, token = str(int(time.time())), uuid.uuid4().hex
    signature = hmac.new(b"key-tests", f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return client.post(
        "/anymail/mailgun/inbound_mime/",
        {
            "body-mime": raw.decode(),
            "timestamp": timestamp,
            "token": token,
            "signature": signature,
        },
        HTTP_AUTHORIZATION=AUTH,
    )


def notices(mailoutbox, address):
    return [
        m
        for m in mailoutbox
        if address in m.to and m.extra_headers.get("Auto-Submitted") == "auto-replied"
    ]


# -- the outgoing side ---------------------------------------------------------------------


def test_a_notification_carries_a_reply_address_and_says_replies_are_posted(
    guest_thread, mailoutbox
):
    email, reply_to = reply_to_of(mailoutbox, "seller@example.com")
    match = re.fullmatch(rf"reply\+([a-z2-7]{{32}})@{re.escape(DOMAIN)}", reply_to)
    assert match, reply_to
    assert "Reply to this email to answer" in email.body
    assert "Do not reply" not in email.body
    assert email.body.startswith("##- ")
    assert "Reply to this email to answer" in email.alternatives[0][0]
    # Only the key's hash is kept, tied to the seller's row in this thread.
    (address,) = ReplyAddress.objects.all()
    assert match.group(1) not in address.key_hash
    assert address.participant.user.username == "seller"
    assert address.participant.thread_id == guest_thread.pk
    assert address.expires_at > timezone.now() + timedelta(days=29)


def test_every_attempt_of_an_email_names_the_same_reply_address(guest_thread, mailoutbox):
    _email, reply_to = reply_to_of(mailoutbox, "seller@example.com")
    row = OutboxEmail.objects.get(
        kind=OutboxEmail.Kind.NOTIFICATION, recipient="seller@example.com"
    )
    again = outbox.RENDERERS[row.kind]
    from django.utils.module_loading import import_string

    assert import_string(again)(row).extra_headers["Reply-To"] == reply_to
    assert ReplyAddress.objects.count() == 1


def test_without_a_reply_domain_emails_say_to_answer_on_the_site(
    settings, send, start, seller, listing, mailoutbox
):
    settings.WAGTAILMESSENGER_REPLY_DOMAIN = None
    send(start, Party.guest("Gina", "gina@example.com"), seller, listing=listing)
    email, reply_to = reply_to_of(mailoutbox, "seller@example.com")
    assert reply_to is None
    assert "Do not reply to this email" in email.body
    assert "##-" not in email.body
    assert not ReplyAddress.objects.exists()


# -- a reply posted ---------------------------------------------------------------------------


def test_the_seller_answers_the_guest_by_email_and_the_guest_reads_it_on_the_site(
    client, guest_thread, mailoutbox, django_capture_on_commit_callbacks
):
    notification, reply_to = reply_to_of(mailoutbox, "seller@example.com")
    mailoutbox.clear()
    text = quoted(notification, "Yes, still available. Come on Saturday.\n\nSent from my iPhone")
    with django_capture_on_commit_callbacks(execute=True):
        response = post_postmark(client, postmark(reply_to, "Seller@Example.com", text))
    assert response.status_code == 200

    message = guest_thread.messages.order_by("-pk").first()
    assert message.sender.user.username == "seller"
    assert message.body == "Yes, still available. Come on Saturday."
    # The guest is told as for any reply, with a private link to the thread.
    (to_guest,) = [m for m in mailoutbox if "gina@example.com" in m.to]
    link = re.search(r"https?://[^/\s]+(/messages/link/[^/\s]+/)", to_guest.body).group(1)
    assert resolve(link).url_name == "guest_link"
    client.get(link)
    page = client.get(guest_thread.get_absolute_url()).content.decode()
    assert "Yes, still available. Come on Saturday." in page
    assert "wrote:" not in page and "Sent from my iPhone" not in page


def test_the_same_email_delivered_twice_is_posted_once(client, guest_thread, mailoutbox):
    _notification, reply_to = reply_to_of(mailoutbox, "seller@example.com")
    payload = postmark(reply_to, "seller@example.com", "Still available.")
    before = Message.objects.count()
    assert post_postmark(client, payload).status_code == 200
    assert post_postmark(client, payload).status_code == 200
    assert Message.objects.count() == before + 1


def test_a_raw_mime_payload_of_another_provider_is_posted_too(client, guest_thread, mailoutbox):
    _notification, reply_to = reply_to_of(mailoutbox, "seller@example.com")
    raw = mime(reply_to, "seller@example.com", "Answered through Mailgun.")
    assert post_mailgun(client, raw).status_code == 200
    assert guest_thread.messages.filter(body="Answered through Mailgun.").exists()


def test_a_guest_answers_by_email_too(client, send, guest_thread, seller, mailoutbox):
    seller_row = guest_thread.participants.get(user=seller)
    mailoutbox.clear()
    from wagtail_messenger.actors import Actor

    send(
        conversations.post_message,
        actor=Actor.for_user(seller),
        thread=guest_thread,
        body="Yes, it is.",
        participant=seller_row,
    )
    _email, reply_to = reply_to_of(mailoutbox, "gina@example.com")
    assert (
        post_postmark(client, postmark(reply_to, "gina@example.com", "Great, see you.")).status_code
        == 200
    )
    message = guest_thread.messages.get(body="Great, see you.")
    assert (message.sender.kind, message.sender.email) == (
        Participant.Kind.GUEST,
        "gina@example.com",
    )


def test_a_team_members_reply_is_posted_for_the_team_with_its_author(
    client, send, start, buyer, make_user, listing, mailoutbox, settings
):
    sales = Group.objects.create(name="Sales")
    alice, bob = make_user("alice"), make_user("bob")
    sales.user_set.add(alice, bob)
    posted = send(start, buyer, Party.team(sales), listing=listing)
    _email, reply_to = reply_to_of(mailoutbox, "alice@example.com")
    post_postmark(client, postmark(reply_to, "bob@example.com", "Bob here, it is available."))
    message = posted.thread.messages.get(body="Bob here, it is available.")
    assert message.sender.group == sales
    assert message.author == bob


@pytest.mark.parametrize(
    ("text", "html", "expected"),
    [
        (
            "Sure, 80 is fine.\n\n-- \nJean Dupont\n06 00 00 00 00\n\n"
            "Le mar. 1 déc. 2026 à 10:02, Market <noreply@example.com> a écrit :\n> Hello",
            "",
            "Sure, 80 is fine.",
        ),
        (
            "Klar, gerne.\n\n"
            "Am Di., 1. Dez. 2026 um 10:02 Uhr schrieb Market <noreply@example.com>:\n> Hallo",
            "",
            "Klar, gerne.",
        ),
        (
            "",
            '<div dir="ltr">It is <b>still</b> here &amp; ready.</div><br>'
            '<div class="gmail_quote"><div>On Tue, 1 Dec 2026 at 10:02, Market wrote:</div>'
            "<blockquote>Hello, is it still available?</blockquote></div>",
            "It is still here & ready.",
        ),
    ],
    ids=["french-signature", "german-quote", "html-only"],
)
def test_quoted_history_and_signatures_are_cut(
    client, guest_thread, mailoutbox, text, html, expected
):
    _notification, reply_to = reply_to_of(mailoutbox, "seller@example.com")
    post_postmark(client, postmark(reply_to, "seller@example.com", text, html=html))
    assert guest_thread.messages.order_by("-pk").first().body == expected


def test_one_attachment_is_kept_and_checked_like_an_upload(client, guest_thread, mailoutbox):
    _notification, reply_to = reply_to_of(mailoutbox, "seller@example.com")
    payload = postmark(
        reply_to,
        "seller@example.com",
        "Here is a photo.",
        attachments=[
            ("bike.png", png_bytes(), "image/png"),
            ("second.png", png_bytes(), "image/png"),
        ],
    )
    post_postmark(client, payload)
    message = guest_thread.messages.get(body="Here is a photo.")
    assert message.attachment.name == "bike.png"
    assert message.attachment.content_type == "image/png"


def test_a_disguised_file_posts_nothing_and_the_sender_is_told_why(
    client, guest_thread, mailoutbox, django_capture_on_commit_callbacks
):
    _notification, reply_to = reply_to_of(mailoutbox, "seller@example.com")
    mailoutbox.clear()
    payload = postmark(
        reply_to,
        "seller@example.com",
        "Invoice attached.",
        attachments=[("invoice.pdf", b"MZ\x90\x00" + b"\x00" * 200, "application/pdf")],
    )
    before = Message.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        assert post_postmark(client, payload).status_code == 200
    assert Message.objects.count() == before
    (notice,) = notices(mailoutbox, "seller@example.com")
    assert "was not posted" in notice.subject
    assert "nobody received it" in notice.body
    assert guest_thread.get_absolute_url() in notice.body


# -- what is refused or ignored --------------------------------------------------------------


def test_an_unknown_or_expired_address_gets_one_polite_notice_and_posts_nothing(
    client, guest_thread, mailoutbox, django_capture_on_commit_callbacks
):
    _notification, reply_to = reply_to_of(mailoutbox, "seller@example.com")
    ReplyAddress.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    mailoutbox.clear()
    payload = postmark(reply_to, "seller@example.com", "Still there?")
    before = Message.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        post_postmark(client, payload)
        post_postmark(client, payload)  # delivered again by the provider
        post_postmark(client, postmark(f"reply+{'a' * 32}@{DOMAIN}", "seller@example.com", "Hi"))
    assert Message.objects.count() == before
    sent = notices(mailoutbox, "seller@example.com")
    assert len(sent) == 2  # one per email received, not per delivery
    assert "not valid any more" in sent[0].body
    assert sent[0].extra_headers["In-Reply-To"] == payload["Headers"][1]["Value"]
    # Nothing says which conversation the address was for.
    assert guest_thread.get_absolute_url() not in sent[0].body


@pytest.mark.parametrize(
    "headers",
    [
        [("Auto-Submitted", "auto-replied")],
        [("Precedence", "bulk")],
        [("X-Autoreply", "yes")],
        [("List-Id", "<list.example>")],
    ],
    ids=["auto-submitted", "precedence", "x-autoreply", "mailing-list"],
)
def test_auto_replies_are_ignored_and_never_answered(
    client, guest_thread, mailoutbox, headers, django_capture_on_commit_callbacks
):
    _notification, reply_to = reply_to_of(mailoutbox, "seller@example.com")
    mailoutbox.clear()
    before = Message.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        post_postmark(
            client, postmark(reply_to, "seller@example.com", "I am out of office.", headers=headers)
        )
    assert Message.objects.count() == before
    assert mailoutbox == []


def test_a_bounce_with_an_empty_return_path_is_ignored(client, guest_thread, mailoutbox):
    _notification, reply_to = reply_to_of(mailoutbox, "seller@example.com")
    mailoutbox.clear()
    payload = postmark(reply_to, "mailer-daemon@mx.example", "Delivery failed")
    payload["Headers"][0]["Value"] = "<>"
    post_postmark(client, payload)
    assert not guest_thread.messages.filter(body="Delivery failed").exists()
    assert mailoutbox == []


def test_a_reply_from_another_address_is_refused(
    client, guest_thread, mailoutbox, django_capture_on_commit_callbacks
):
    _notification, reply_to = reply_to_of(mailoutbox, "seller@example.com")
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        post_postmark(client, postmark(reply_to, "forwarded-to@example.org", "I'll take it"))
    assert not guest_thread.messages.filter(body="I'll take it").exists()
    (notice,) = notices(mailoutbox, "forwarded-to@example.org")
    assert "only from the address the notification was sent to" in notice.body
    assert guest_thread.get_absolute_url() not in notice.body


def test_notices_to_one_address_stop_after_the_daily_cap(
    client, guest_thread, mailoutbox, settings, django_capture_on_commit_callbacks
):
    settings.WAGTAILMESSENGER_REPLY_REFUSALS_PER_DAY = 2
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(5):
            post_postmark(
                client, postmark(f"reply+{'b' * 32}@{DOMAIN}", "robot@example.org", f"#{n}")
            )
    assert len(notices(mailoutbox, "robot@example.org")) == 2


def test_a_closed_conversation_refuses_the_reply_and_says_so(
    client, guest_thread, mailoutbox, django_capture_on_commit_callbacks
):
    _notification, reply_to = reply_to_of(mailoutbox, "seller@example.com")
    Thread.objects.filter(pk=guest_thread.pk).update(status=Thread.Status.CLOSED)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        post_postmark(client, postmark(reply_to, "seller@example.com", "Hello?"))
    assert not guest_thread.messages.filter(body="Hello?").exists()
    (notice,) = notices(mailoutbox, "seller@example.com")
    assert "closed by the moderators" in notice.body


def test_rate_limits_apply_to_emailed_replies(
    client, guest_thread, mailoutbox, site, django_capture_on_commit_callbacks
):
    conf = MessengerSettings.for_site(site)
    conf.account_messages_per_minute = 1
    conf.new_account_messages_per_minute = 1
    conf.save()
    _notification, reply_to = reply_to_of(mailoutbox, "seller@example.com")
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        post_postmark(client, postmark(reply_to, "seller@example.com", "One"))
        post_postmark(client, postmark(reply_to, "seller@example.com", "Two"))
    assert guest_thread.messages.filter(body="One").exists()
    assert not guest_thread.messages.filter(body="Two").exists()
    (notice,) = notices(mailoutbox, "seller@example.com")
    assert "Too many messages" in notice.body


def test_a_held_reply_waits_for_review_and_the_sender_is_told(
    client, guest_thread, mailoutbox, seller, django_capture_on_commit_callbacks
):
    from wagtail_messenger.models import Ban

    Ban.objects.create(user=seller, reason="tests")
    _notification, reply_to = reply_to_of(mailoutbox, "seller@example.com")
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        post_postmark(client, postmark(reply_to, "seller@example.com", "Call me."))
    assert guest_thread.messages.get(body="Call me.").state == Message.State.HELD
    (notice,) = notices(mailoutbox, "seller@example.com")
    assert "waits for review" in notice.subject
    assert not [m for m in mailoutbox if "gina@example.com" in m.to]


def test_emptying_the_trash_ends_the_reply_addresses_of_that_conversation(
    client, guest_thread, mailoutbox, seller
):
    from wagtail_messenger.actors import Actor
    from wagtail_messenger.services import maintenance, participation

    _notification, reply_to = reply_to_of(mailoutbox, "seller@example.com")
    participation.trash(Actor.for_user(seller), [guest_thread.pk])
    maintenance.empty_trash(now=timezone.now() + timedelta(days=365))
    assert guest_thread.participants.get(user=seller).folder == Participant.Folder.DELETED
    post_postmark(client, postmark(reply_to, "seller@example.com", "Still here"))
    assert not Message.objects.filter(body="Still here").exists()


def test_erasing_a_person_deletes_their_reply_addresses(client, guest_thread, mailoutbox, seller):
    from wagtail_messenger.services import privacy

    _notification, reply_to = reply_to_of(mailoutbox, "seller@example.com")
    privacy.erase_person(user=seller)
    assert not ReplyAddress.objects.exists()
    post_postmark(client, postmark(reply_to, "seller@example.com", "Still here"))
    assert not Message.objects.filter(body="Still here").exists()


def test_the_webhook_refuses_a_caller_without_the_shared_secret(client, guest_thread, mailoutbox):
    _notification, reply_to = reply_to_of(mailoutbox, "seller@example.com")
    response = client.post(
        "/anymail/postmark/inbound/",
        data=json.dumps(postmark(reply_to, "seller@example.com", "Forged")),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert not guest_thread.messages.filter(body="Forged").exists()


def test_replies_off_ignore_inbound_mail(client, settings, guest_thread, mailoutbox):
    _notification, reply_to = reply_to_of(mailoutbox, "seller@example.com")
    settings.WAGTAILMESSENGER_REPLY_DOMAIN = None
    assert post_postmark(client, postmark(reply_to, "seller@example.com", "Hi")).status_code == 200
    assert not guest_thread.messages.filter(body="Hi").exists()


def test_reply_keys_are_unguessable_and_distinct(guest_thread):
    rows = [OutboxEmail(pk=n) for n in range(1, 200)]
    keys = {replies.reply_key(row) for row in rows}
    assert len(keys) == len(rows)
    assert all(re.fullmatch(r"[a-z2-7]{32}", key) for key in keys)


# -- the IMAP command ------------------------------------------------------------------------
# ``messenger_fetch_replies`` against a real IMAP server (Debian's dovecot, started by the
# ``dovecot`` fixture on 127.0.0.1): replies waiting in the mailbox are posted, refused or
# ignored as through a provider's webhook, and marked read.


def fetch(**options):
    out = io.StringIO()
    call_command("messenger_fetch_replies", "--no-ssl", stdout=out, **options)
    return out.getvalue()


def test_replies_in_the_mailbox_are_posted_once_and_marked_read(
    imap_mailbox, guest_thread, mailoutbox
):
    _notification, reply_to = reply_to_of(mailoutbox, "seller@example.com")
    imap_mailbox.deliver(
        mime(reply_to, "seller@example.com", "Yes, Saturday works.", message_id="<a@mail.example>")
    )
    imap_mailbox.deliver(
        mime(
            reply_to,
            "seller@example.com",
            "Out of office until Monday.",
            message_id="<b@mail.example>",
            headers=[("Auto-Submitted", "auto-replied")],
        )
    )
    imap_mailbox.deliver(
        mime(
            f"reply+{'c' * 32}@reply.market.example",
            "someone@example.org",
            "Hello?",
            message_id="<c@mail.example>",
        )
    )

    out = fetch()
    assert "1 posted, 1 refused (the sender was told why), 1 ignored, 0 left" in out
    assert guest_thread.messages.filter(body="Yes, Saturday works.").count() == 1
    assert not Message.objects.filter(body__startswith="Out of office").exists()
    flags = imap_mailbox.flags()
    assert all(
        "\\Seen" in flags[mid]
        for mid in ("<a@mail.example>", "<b@mail.example>", "<c@mail.example>")
    )

    # A second run finds nothing new; an email marked unread again (a run killed after
    # posting, before marking) is not posted twice.
    assert "0 posted, 0 refused (the sender was told why), 0 ignored" in fetch()
    with imap_mailbox.client() as mailbox:
        mailbox.select("INBOX")
        mailbox.store("1", "-FLAGS", "(\\Seen)")
    fetch()
    assert guest_thread.messages.filter(body="Yes, Saturday works.").count() == 1


def test_delete_removes_handled_emails(imap_mailbox, guest_thread, mailoutbox):
    _notification, reply_to = reply_to_of(mailoutbox, "seller@example.com")
    imap_mailbox.deliver(
        mime(reply_to, "seller@example.com", "Deal.", message_id="<d@mail.example>")
    )
    fetch(delete=True)
    assert guest_thread.messages.filter(body="Deal.").exists()
    assert imap_mailbox.flags() == {}


def test_a_wrong_password_is_a_clear_error(imap_mailbox, settings):
    settings.WAGTAILMESSENGER_REPLY_IMAP = {
        **settings.WAGTAILMESSENGER_REPLY_IMAP,
        "PASSWORD": "nope",
    }
    with pytest.raises(CommandError, match="Could not log in to 127.0.0.1"):
        fetch()


def test_without_a_mailbox_setting_the_command_says_what_is_missing(settings):
    settings.WAGTAILMESSENGER_REPLY_IMAP = None
    with pytest.raises(CommandError, match="must give HOST, USER, PASSWORD"):
        fetch()


def test_maintenance_deletes_expired_and_revoked_reply_addresses(guest_thread, mailoutbox):
    from wagtail_messenger.services import maintenance

    (kept,) = ReplyAddress.objects.all()
    expired = ReplyAddress.objects.create(
        key_hash="e" * 64, participant=kept.participant, expires_at=timezone.now()
    )
    revoked = ReplyAddress.objects.create(
        key_hash="r" * 64,
        participant=kept.participant,
        expires_at=timezone.now() + timedelta(days=3),
        revoked_at=timezone.now(),
    )
    assert maintenance.run_all(dry_run=True)["purge_reply_addresses"].rows_deleted == 2
    assert ReplyAddress.objects.count() == 3
    assert maintenance.run_all()["purge_reply_addresses"].rows_deleted == 2
    assert list(ReplyAddress.objects.all()) == [kept]
    assert not ReplyAddress.objects.filter(pk__in=[expired.pk, revoked.pk]).exists()


def test_checks_say_what_replies_by_email_are_missing(settings):
    from wagtail_messenger.checks import check_replies

    assert check_replies(None) == []  # the tests' URLconf has anymail's inbound URLs
    settings.WAGTAILMESSENGER_REPLY_DOMAIN = "not a domain"
    assert [m.id for m in check_replies(None)] == ["wagtail_messenger.E040"]
    settings.WAGTAILMESSENGER_REPLY_DOMAIN = DOMAIN
    settings.ROOT_URLCONF = "tests.fresh_urls"
    assert [m.id for m in check_replies(None)] == ["wagtail_messenger.W040"]
    settings.WAGTAILMESSENGER_REPLY_IMAP = {"HOST": "imap.example", "USER": "u", "PASSWORD": "p"}
    assert check_replies(None) == []
