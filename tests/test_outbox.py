"""The outbox: every email goes through it, survives a mail server that is down or
refuses, and is sent again only as the same email (the same Message-ID, the same link).

The SMTP server is aiosmtpd on 127.0.0.1 (tests/smtp_faults.py). The figures of the
fault runs are printed in the terminal summary ("figures"), in CI too.
"""

import contextlib
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.core import mail
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from wagtail_messenger import tasks
from wagtail_messenger.forms import new_key
from wagtail_messenger.models import ContactPreference, MessengerSettings
from wagtail_messenger.services import guests
from wagtail_messenger.services.outbox import DeliveryFailed
from wagtail_messenger.services.parties import Party

pytestmark = [pytest.mark.django_db, pytest.mark.smtp]

LINK_RE = re.compile(r"https?://[^/\s]+(/messages/link/[\w-]+/)")


def sweep():
    """The sweeper, as cron runs it; a failure is the command's exit status, not ours."""
    from django.core.management import CommandError

    with contextlib.suppress(CommandError):
        call_command("messenger_send_pending_notifications", verbosity=0)


def guest_writes(client, listing, email="gail@example.com"):
    response = client.post(
        reverse("wagtail_messenger:compose", args=[listing.pk]),
        {"name": "Gail", "email": email, "body": "Is it red?", "key": new_key()},
    )
    assert response.status_code == 302


def to(server, address):
    return [m for rcpt, m in server.handler.parsed() if rcpt == address]


def link_in(message):
    return LINK_RE.search(message.get_body(("plain",)).get_content()).group(1)


# -- guest links ------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["down", "451"])
def test_a_guest_link_refused_by_the_mail_server_arrives_once_later_and_works(
    fault, mail_server, client, listing, django_capture_on_commit_callbacks
):
    if fault == "451":
        mail_server.start()
        mail_server.handler.fail_next(2)  # the seller's notification, the guest's link
    with django_capture_on_commit_callbacks(execute=True):
        guest_writes(client, listing)
    if fault == "down":
        mail_server.start()
    assert to(mail_server, "gail@example.com") == []

    sweep()
    sweep()
    got = to(mail_server, "gail@example.com")
    assert len(got) == 1, "the guest hears back exactly once"
    page = client.get(link_in(got[0]), follow=True)
    assert page.status_code == 200 and b"Is it red?" in page.content


def test_a_resent_guest_link_is_the_same_email_with_the_same_working_link(
    mail_server, client, listing, django_capture_on_commit_callbacks, settings
):
    """The mail server accepts the email but answers after the client's timeout: the
    client must try again; the second copy is the same email (Message-ID, link)."""
    settings.EMAIL_TIMEOUT = 1
    mail_server.start()
    mail_server.handler.accept_then_stall(2, seconds=1.5)  # the seller's email too
    with django_capture_on_commit_callbacks(execute=True):
        guest_writes(client, listing)
    sweep()
    first, second = to(mail_server, "gail@example.com")
    assert first["Message-ID"] == second["Message-ID"]
    assert link_in(first) == link_in(second)
    page = client.get(link_in(second), follow=True)
    assert page.status_code == 200 and b"Is it red?" in page.content


def test_message_ids_carry_the_sites_domain_not_the_machines(
    client, listing, django_capture_on_commit_callbacks, settings
):
    """Django's default right-hand side is the sending machine's name (an internal host
    name in every header); the outbox uses the site's domain."""
    from django.core.mail.utils import DNS_NAME

    settings.WAGTAILMESSENGER_BASE_URL = "https://market.example.com"
    with django_capture_on_commit_callbacks(execute=True):
        guest_writes(client, listing)
    ids = [email.extra_headers["Message-ID"] for email in mail.outbox]
    assert len(ids) == 2  # the seller's notification, the guest's link
    assert all(i.endswith("@market.example.com>") for i in ids), ids
    assert not any(str(DNS_NAME) in i for i in ids)

    settings.WAGTAILMESSENGER_BASE_URL = None  # then Wagtail's admin base URL
    settings.WAGTAILADMIN_BASE_URL = "https://admin.market.example.com"
    mail.outbox = []
    with django_capture_on_commit_callbacks(execute=True):
        guest_writes(client, listing, email="hal@example.com")
    assert all(
        e.extra_headers["Message-ID"].endswith("@admin.market.example.com>") for e in mail.outbox
    )


def test_no_raw_token_sits_in_the_database_or_the_queue(
    mail_server, client, listing, django_capture_on_commit_callbacks, settings
):
    from django_tasks import default_task_backend

    from wagtail_messenger.models import AccessToken, OutboxEmail
    from wagtail_messenger.services import outbox

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    mail_server.start()
    with django_capture_on_commit_callbacks(execute=True):
        guest_writes(client, listing)
    row = OutboxEmail.objects.get(kind="guest_link")
    queued = [(r.task.name, r.args) for r in default_task_backend.results]
    assert ("send_email", [row.pk]) in queued, "the queue holds the row's id, nothing else"
    outbox.send_now(row.pk)  # the worker running it
    raw = link_in(to(mail_server, "gail@example.com")[0]).rstrip("/").rsplit("/", 1)[1]
    assert all(raw not in repr(args) for _name, args in queued)
    row.refresh_from_db()
    assert raw not in repr(row.params) and raw not in row.dedup_key
    assert not AccessToken.objects.filter(token_hash=raw).exists(), "only its hash"
    assert AccessToken.objects.valid(raw, AccessToken.Purpose.GUEST) is not None


# -- the text of emails -------------------------------------------------------------------


def test_subjects_and_plain_text_show_markup_characters_literally(
    client, site, seller, listing, mailoutbox, django_capture_on_commit_callbacks
):
    listing.title = 'Bike <script>alert("x")</script> & "lock"'
    listing.save_revision().publish()
    with django_capture_on_commit_callbacks(execute=True):
        guest_writes(client, listing)
    guest_mail, seller_mail = (
        next(m for m in mailoutbox if m.to == [who])
        for who in ("gail@example.com", "seller@example.com")
    )
    for email in (guest_mail, seller_mail):
        assert '<script>alert("x")</script> & "lock"' in email.subject, email.subject
        assert "&lt;" not in email.subject and "&amp;" not in email.subject
        assert "&lt;" not in email.body and "&quot;" not in email.body
        html = email.alternatives[0][0]
        assert "<script>" not in html and "&lt;script&gt;" in html, "HTML stays escaped"


# -- moderation alerts --------------------------------------------------------------------


@pytest.fixture
def alerted_moderator(make_user):
    user = make_user("mod")
    group = Group.objects.create(name="Mods")
    group.permissions.add(
        Permission.objects.get(codename="access_admin"),
        Permission.objects.get(codename="moderate_thread"),
    )
    user.groups.add(group)
    ContactPreference.objects.create(user=user, moderation_alerts=True)
    return user


def test_a_moderator_is_alerted_once_about_a_report_whatever_the_task_does(
    alerted_moderator, start, buyer, seller, mail_server
):
    mail_server.start()
    mail_server.handler.fail_next(1)
    posted = start(buyer, seller, body="Cheap watches")
    with pytest.raises(DeliveryFailed, match="451"):
        tasks.notify_moderators.call("reported", posted.message.pk)
    tasks.notify_moderators.call("reported", posted.message.pk)  # the backend retrying
    tasks.notify_moderators.call("reported", posted.message.pk)  # a second report
    sweep()
    assert len(to(mail_server, "mod@example.com")) == 1


# -- retries: backoff and the bound --------------------------------------------------------


def test_retries_back_off_and_stop_at_the_bound(
    start, buyer, seller, mail_server, settings, django_capture_on_commit_callbacks
):
    from wagtail_messenger.models import OutboxEmail

    settings.WAGTAILMESSENGER_EMAIL_RETRY_DELAY = timedelta(minutes=1)
    settings.WAGTAILMESSENGER_NOTIFICATION_MAX_ATTEMPTS = 3
    mail_server.start()
    mail_server.handler.fail_next(10)
    with django_capture_on_commit_callbacks(execute=True):
        start(buyer, seller)  # the immediate backend: the task fails, the row stays
    row = OutboxEmail.objects.get()
    waits = []
    for _ in range(3):
        row.refresh_from_db()
        waits.append(round((row.next_attempt_at - timezone.now()).total_seconds() / 60))
        tried = mail_server.handler.data_commands
        sweep()
        assert mail_server.handler.data_commands == tried, "not due yet: nothing is tried"
        OutboxEmail.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
        sweep()
    row.refresh_from_db()
    assert waits == [1, 2, 4], "1, 2, then 4 minutes"
    assert row.attempts == 3 and row.state == "pending" and "451" in row.last_error
    assert mail_server.handler.data_commands == 3


# -- the figures --------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["down", "451", "accepted-then-timeout"])
def test_twenty_emails_through_a_failing_mail_server(
    fault,
    mail_server,
    start,
    buyer,
    seller,
    settings,
    site,
    record_property,
    django_capture_on_commit_callbacks,
):
    """20 notifications while the server is down, answers 451 to 5 of them, or accepts
    3 and answers after the client's timeout; then the sweeper, twice. Every email
    arrives; a duplicate (only possible in the last case) has the same Message-ID."""
    conf = MessengerSettings.for_site(site)
    conf.notification_mode = MessengerSettings.NotificationMode.EVERY
    conf.save()
    settings.EMAIL_TIMEOUT = 1
    if fault != "down":
        mail_server.start()
    if fault == "451":
        mail_server.handler.fail_next(5)
    elif fault == "accepted-then-timeout":
        mail_server.handler.accept_then_stall(3, seconds=1.5)
    owed = []
    for i in range(20):
        with django_capture_on_commit_callbacks(execute=True):
            # A refused email fails the task; the message is saved all the same.
            start(buyer, seller, subject=f"Question #{i:02d}", body=f"About part {i}, please")
        owed.append(("seller@example.com", f"Question #{i:02d}"))
    if fault == "down":
        mail_server.start()
    sweep()
    sweep()
    ids, lost, duplicates, mixed = mail_server.handler.figures(owed)
    figure = (
        f"SMTP {fault}: 20 emails, {ids} distinct Message-IDs delivered, {lost} lost; "
        f"duplicates {duplicates}, {duplicates - mixed} with the same Message-ID"
    )
    record_property("figure", figure)
    assert (ids, lost, mixed) == (20, 0, 0), figure
    assert duplicates <= (3 if fault == "accepted-then-timeout" else 0), figure


def test_the_old_task_name_for_guest_links_still_sends(
    start, seller, listing, mailoutbox, settings
):
    start(Party.guest("Gail", "gail@example.com"), seller, listing=listing)
    mail.outbox.clear()
    tasks.send_guest_link.call("gail@example.com")
    assert [m.to for m in mailoutbox] == [["gail@example.com"]]
    assert guests.guest_threads("gail@example.com").exists()


def test_deleting_sent_rows_never_sends_a_notification_again(
    start, buyer, seller, site, mailoutbox, django_capture_on_commit_callbacks
):
    from wagtail_messenger.models import OutboxEmail

    conf = MessengerSettings.for_site(site)
    conf.notification_mode = MessengerSettings.NotificationMode.EVERY
    conf.save()
    with django_capture_on_commit_callbacks(execute=True):
        posted = start(buyer, seller)
    OutboxEmail.objects.filter(state="sent").delete()  # a site clearing old rows
    tasks.notify_recipients.call(posted.message.pk)  # the backend retrying the task
    sweep()
    assert [m.to for m in mailoutbox] == [["seller@example.com"]]


def test_sent_emails_are_deleted_after_the_retention_and_pending_ones_kept(
    client, listing, site, mail_server, django_capture_on_commit_callbacks, settings
):
    """The outbox keeps every recipient's address: the maintenance job deletes the rows
    of sent emails after ``OUTBOX_RETENTION`` (30 days) and keeps the ones still owed."""
    from io import StringIO

    from wagtail_messenger.models import OutboxEmail
    from wagtail_messenger.services import maintenance

    mail_server.start()
    with django_capture_on_commit_callbacks(execute=True):
        guest_writes(client, listing)  # the seller's notification and the guest's link
    mail_server.handler.fail_next(10)
    with django_capture_on_commit_callbacks(execute=True):
        guest_writes(client, listing, email="hal@example.com")  # refused: still owed
    assert OutboxEmail.objects.filter(state="sent").count() == 2
    assert OutboxEmail.objects.filter(state="pending").exists()
    later = timezone.now() + timedelta(days=31)

    assert maintenance.purge_sent_emails().rows_deleted == 0, "sent just now: kept"
    out = StringIO()
    call_command("messenger_purge_sent_emails", "--dry-run", stdout=out)
    assert "Total: 0 sent email(s) would be deleted (0 batch(es))." in out.getvalue()
    dry = maintenance.purge_sent_emails(now=later, dry_run=True)
    assert dry.rows_deleted == 2 and OutboxEmail.objects.filter(state="sent").count() == 2
    # With a site it does nothing (the outbox is every site's), as run_maintenance does.
    assert maintenance.purge_sent_emails(site=site, now=later).rows_deleted == 0
    assert maintenance.run_all(now=later)["purge_sent_emails"].rows_deleted == 2
    assert not OutboxEmail.objects.filter(state="sent").exists()
    assert OutboxEmail.objects.filter(state="pending").exists(), "still owed: kept"

    settings.WAGTAILMESSENGER_OUTBOX_RETENTION = None  # a site that keeps them
    mail_server.handler.fail_next(0)
    OutboxEmail.objects.update(next_attempt_at=timezone.now())
    sweep()
    assert OutboxEmail.objects.filter(state="sent").exists()
    assert maintenance.purge_sent_emails(now=later + timedelta(days=365)).rows_deleted == 0
