"""The production set-up end to end: django-tasks-db's database queue, its ``db_worker``
and a real SMTP hop. Nothing is sent inside the request; the worker sends, fails, and the
retry task sends exactly once."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from wagtail_messenger import tasks
from wagtail_messenger.models import Message, OutboxEmail

# Committing for real (the queue row must be visible to the worker). The ``site``
# fixture rebuilds Wagtail's root page and default site after a flush; serialized
# rollback is not used: mixed with other transactional tests it re-inserts content
# types that the flush's post-migrate step already recreated.
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.smtp,
]


@pytest.fixture
def db_queue(settings):
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    # Only ours: Wagtail queues its own tasks (search index, references) too.
    return DBTaskResult.objects.filter(task_path__startswith="wagtail_messenger.")


def work():
    call_command("db_worker", "--batch", "--no-startup-delay", "--interval", "0", verbosity=0)


def test_db_worker_sends_the_notification_queued_on_commit(
    db_queue, smtp_server, buyer, seller, listing, client
):
    client.force_login(buyer)
    response = client.post(
        reverse("wagtail_messenger:compose", args=[listing.pk]),
        {"body": "Is it still available?"},
        HTTP_HOST="evil.example",  # a forged Host header must not reach any link
    )
    assert response.status_code == 302
    # Committed and queued, not sent inside the request: the worker sends.
    assert [r.task_path for r in db_queue] == ["wagtail_messenger.tasks.notify_recipients"]
    assert smtp_server.messages == []
    assert Message.objects.filter(body="Is it still available?", state="visible").exists()

    smtp_server.fail_next(1)
    work()
    assert smtp_server.messages == []
    assert db_queue.get().status == "FAILED", "the backend sees the refused email"
    assert OutboxEmail.objects.get().attempts == 1

    tasks.send_pending_notifications.enqueue()
    work()
    work()
    assert [e.rcpt_tos for e in smtp_server.messages] == [["seller@example.com"]]
    content = smtp_server.messages[0].content
    assert b"Is it still available?" in content
    assert b"evil.example" not in content and b"http://localhost/messages/" in content
    assert OutboxEmail.objects.get().sent_at is not None
