"""Notification emails through a real SMTP hop (aiosmtpd on 127.0.0.1).

``smtp_server.fail_next(n)`` makes the server answer 451 to the next n messages, the way
a busy or greylisting mail server does.
"""

import email
import email.policy
import threading

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.db import connection

from wagtail_messenger import tasks
from wagtail_messenger.models import Message, MessengerSettings, OutboxEmail, Participant
from wagtail_messenger.services import conversations, mailer
from wagtail_messenger.services.parties import Party

pytestmark = [pytest.mark.django_db, pytest.mark.smtp]


def received(smtp_server):
    """``{recipient: [parsed message, ...]}`` for everything the server accepted."""
    by_rcpt = {}
    for envelope in smtp_server.messages:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        for rcpt in envelope.rcpt_tos:
            by_rcpt.setdefault(rcpt, []).append(parsed)
    return by_rcpt


def retry():
    call_command("messenger_send_pending_notifications", verbosity=0)


def test_smtp_failing_then_recovering_gives_exactly_one_email(
    smtp_server, send, start, buyer, seller, listing, client
):
    smtp_server.fail_next(1)
    posted = send(start, buyer, seller, listing=listing, body="Still for sale?")

    # The mail server refused: the message is saved and visible all the same.
    message = Message.objects.get(pk=posted.message.pk)
    assert message.state == Message.State.VISIBLE
    assert Participant.objects.get(thread=posted.thread, user=seller).unread_count == 1
    client.force_login(seller)
    assert b"Still for sale?" in client.get(posted.thread.get_absolute_url()).content
    assert smtp_server.messages == []
    row = OutboxEmail.objects.get()
    assert row.sent_at is None and row.attempts == 1 and "451" in row.last_error

    retry()
    retry()
    tasks.notify_recipients.call(message.pk)  # the backend retrying the original task
    assert list(received(smtp_server)) == ["seller@example.com"]
    assert len(received(smtp_server)["seller@example.com"]) == 1
    row.refresh_from_db()
    assert row.sent_at is not None and row.attempts == 2 and row.last_error == ""


def test_each_team_member_gets_one_email_through_failures(
    smtp_server, send, start, buyer, make_user, site
):
    conf = MessengerSettings.for_site(site)
    conf.notification_mode = MessengerSettings.NotificationMode.EVERY
    conf.save()
    team = Group.objects.create(name="Sales")
    for name in ("anna", "ben"):
        make_user(name).groups.add(team)
    smtp_server.fail_next(2)
    posted = send(start, buyer, Party.team(team), subject="Bulk order")
    send(
        conversations.post_message,
        actor=Party.for_user(buyer).as_actor(),
        thread=posted.thread,
        body="Forgot to say: 50 units",
    )
    assert smtp_server.messages == []
    assert OutboxEmail.objects.filter(sent_at__isnull=True).count() == 2

    retry()
    retry()
    got = received(smtp_server)
    assert sorted(got) == ["anna@example.com", "ben@example.com"]
    for messages in got.values():
        assert len(messages) == 2, "one email per message per member, no duplicates"
        assert all("@example.com" not in (m["To"] or "") for m in messages)


def test_retry_command_gives_up_after_the_bound_and_says_so(
    smtp_server, send, start, buyer, seller, settings
):
    settings.WAGTAILMESSENGER_NOTIFICATION_MAX_ATTEMPTS = 3
    smtp_server.fail_next(10)
    send(start, buyer, seller)
    with pytest.raises(CommandError, match="451"):
        retry()
    with pytest.raises(CommandError):
        retry()
    retry()  # three attempts made: nothing left to try, nothing fails
    row = OutboxEmail.objects.get()
    assert (row.attempts, row.sent_at) == (3, None)
    assert smtp_server.messages == []
    smtp_server.fail_next(0)
    call_command("messenger_send_pending_notifications", max_attempts=4, verbosity=0)
    assert [e.rcpt_tos for e in smtp_server.messages] == [["seller@example.com"]]
    assert OutboxEmail.objects.get().attempts == 4


def test_mail_server_down_leaves_the_message_and_retries(send, start, buyer, seller, settings):
    from tests.real_parts import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nobody listens
    settings.EMAIL_TIMEOUT = 2
    posted = send(start, buyer, seller)
    assert Message.objects.filter(pk=posted.message.pk, state=Message.State.VISIBLE).exists()
    row = OutboxEmail.objects.get()
    assert row.attempts == 1 and "Connection" in row.last_error


def test_injected_headers_do_not_survive_the_smtp_hop(smtp_server, send, start, seller):
    guest = Party.guest("Eve\r\nBcc: victim@example.com", "eve@example.com")
    send(start, guest, seller, subject="Hi\nX-Injected: yes")
    assert [e.rcpt_tos for e in smtp_server.messages] == [["seller@example.com"]]
    parsed = received(smtp_server)["seller@example.com"][0]
    assert parsed["X-Injected"] is None and parsed["Bcc"] is None
    assert "Eve Bcc: victim@example.com" in parsed["Subject"]
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["List-Unsubscribe"].strip().startswith("<http")
    kinds = sorted(part.get_content_type() for part in parsed.walk() if not part.is_multipart())
    assert kinds == ["text/html", "text/plain"]


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_workers_racing_on_one_message_send_one_email(smtp_server, settings, start, buyer, seller):
    if connection.vendor != "postgresql":
        pytest.skip("Needs PostgreSQL's row locks: set DATABASE_URL to run it.")
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    posted = start(buyer, seller, body="Still for sale?")
    barrier, errors = threading.Barrier(4), []

    def worker():
        try:
            barrier.wait(timeout=10)
            mailer.send_message_notifications(posted.message.pk)
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            connection.close()

    workers = [threading.Thread(target=worker) for _ in range(4)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(timeout=30)
    assert errors == []
    assert [e.rcpt_tos for e in smtp_server.messages] == [["seller@example.com"]]
    assert OutboxEmail.objects.get().attempts == 1
