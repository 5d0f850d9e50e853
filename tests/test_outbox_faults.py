"""Workers killed in the middle: the production set-up (django-tasks-db's ``db_worker``
in a process of its own, PostgreSQL, aiosmtpd) with the worker SIGKILLed while it
sends and while it claims; then the sweeper, after the lease. Every recipient gets the
email, a duplicate has the same Message-ID, nothing stays unsent or RUNNING.

The figures are printed in the terminal summary ("figures")."""

import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from wagtail_messenger.models import MessengerSettings, OutboxEmail, Participant

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.smtp,
    pytest.mark.django_db(transaction=True),
]

ROOT = Path(__file__).resolve().parent.parent
LEASE = 2  # seconds, in the killed worker


@pytest.fixture(autouse=True)
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("Needs a database another process can share: set DATABASE_URL.")


@pytest.fixture
def db_queue(settings, site):
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.WAGTAILMESSENGER_EMAIL_TASK_STALE_AFTER = timedelta(seconds=LEASE)
    conf = MessengerSettings.for_site(site)
    conf.notification_mode = MessengerSettings.NotificationMode.EVERY
    conf.save()
    return DBTaskResult.objects.filter(task_path__startswith="wagtail_messenger.")


def worker(mail_server):
    """``db_worker`` in a process of its own, on the test database."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.outbox_worker_settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "WM_SMTP_PORT": str(mail_server.port),
        "WM_EMAIL_LEASE": str(LEASE),
    }
    return subprocess.Popen(  # noqa: S603 (our own manage.py)
        [sys.executable, str(ROOT / "sandbox" / "manage.py"), "db_worker", "--batch"]
        + ["--no-startup-delay", "--interval", "0.1"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def kill(process):
    process.kill()  # SIGKILL: no clean-up of any kind
    process.wait(timeout=10)


def sweep_then_work():
    """What cron and the worker do next: the sweeper (after the lease), then the queue."""
    time.sleep(LEASE + 0.5)
    call_command("messenger_send_pending_notifications", verbosity=0)
    call_command("db_worker", "--batch", "--no-startup-delay", "--interval", "0", verbosity=0)
    call_command("messenger_send_pending_notifications", verbosity=0)


def owe(start, buyer, seller, count):
    owed = []
    for i in range(count):
        start(buyer, seller, subject=f"Question #{i:02d}", body=f"About part {i}, please")
        owed.append(("seller@example.com", f"Question #{i:02d}"))
    return owed


def report(record_property, what, owed, mail_server, db_queue):
    ids, lost, duplicates, mixed = mail_server.handler.figures(owed)
    unsent = OutboxEmail.objects.filter(state=OutboxEmail.State.PENDING).count()
    running = db_queue.filter(status="RUNNING").count()
    figure = (
        f"{what}: {len(owed)} emails, {ids} distinct Message-IDs delivered, {lost} lost; "
        f"duplicates {duplicates}, {duplicates - mixed} with the same Message-ID; "
        f"{unsent} unsent, {running} tasks RUNNING"
    )
    record_property("figure", figure)
    assert (ids, lost, mixed, unsent, running) == (len(owed), 0, 0, 0, 0), figure
    return duplicates


@pytest.mark.parametrize("accepted", [True, False], ids=["accepted", "not-accepted"])
def test_worker_killed_while_sending(
    accepted, db_queue, mail_server, start, buyer, seller, record_property
):
    mail_server.start()
    owed = owe(start, buyer, seller, 12)
    # The fifth email reaches the server, which holds the answer while we kill.
    mail_server.handler.hold(after=4, accept=accepted)
    process = worker(mail_server)
    try:
        assert mail_server.handler.holding.wait(timeout=60), "the worker never sent"
    finally:
        kill(process)
    mail_server.handler.release.set()
    assert db_queue.filter(status="RUNNING").count() == 1, "left running by the kill"
    assert OutboxEmail.objects.filter(lease_until__isnull=False, sent_at=None).count() == 1

    sweep_then_work()
    duplicates = report(
        record_property,
        f"Worker killed while sending ({'accepted' if accepted else 'not accepted'})",
        owed,
        mail_server,
        db_queue,
    )
    assert duplicates == (1 if accepted else 0)


def test_worker_killed_while_claiming(db_queue, mail_server, start, buyer, seller, record_property):
    mail_server.start()
    owed = owe(start, buyer, seller, 3)
    first = Participant.objects.filter(user=seller).order_by("pk").first()
    locked, release = threading.Event(), threading.Event()

    def hold_the_rows():  # another transaction has the thread's rows: the claim waits
        with transaction.atomic():
            list(Participant.objects.select_for_update().filter(thread_id=first.thread_id))
            locked.set()
            release.wait(timeout=60)
        connection.close()

    holder = threading.Thread(target=hold_the_rows)
    holder.start()
    assert locked.wait(timeout=10)
    process = worker(mail_server)
    try:
        assert waiting_for_a_lock(timeout=60), "the worker never reached the claim"
    finally:
        kill(process)
        release.set()
        holder.join(timeout=10)
    assert mail_server.handler.messages == []
    assert db_queue.filter(status="RUNNING").count() == 1, "left running by the kill"

    sweep_then_work()
    assert report(record_property, "Worker killed while claiming", owed, mail_server, db_queue) == 0


def waiting_for_a_lock(timeout):
    """Whether a session of this database waits for a row lock (the worker's claim)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return True
        time.sleep(0.1)
    return False
