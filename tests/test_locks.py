"""Row locks (``services/locks.py``) take only the options the database has: MariaDB
has no ``FOR UPDATE OF``, ``SKIP LOCKED`` needs MySQL 8 or MariaDB 10.6, SQLite takes no
row locks. What each database has is asked of the connection the query runs on."""

import pytest
from django.db import connection

from wagtail_messenger import tasks
from wagtail_messenger.models import Message, OutboxEmail
from wagtail_messenger.services import locks, mailer, moderation

pytestmark = pytest.mark.django_db


@pytest.fixture
def features(monkeypatch):
    """``features(of=False, skip_locked=False)``: the connection as a database without
    ``FOR UPDATE OF`` or ``SKIP LOCKED`` (MariaDB has no OF, before 10.6 no SKIP LOCKED)."""

    def without(of=True, skip_locked=True):
        monkeypatch.setattr(connection.features, "has_select_for_update_of", of)
        monkeypatch.setattr(connection.features, "has_select_for_update_skip_locked", skip_locked)

    return without


def test_locks_ask_for_what_the_database_has():
    query = locks.locked(Message.objects.all(), of=("self",), skip_locked=True).query
    assert query.select_for_update
    of = ("self",) if connection.features.has_select_for_update_of else ()
    assert query.select_for_update_of == of
    skip = connection.features.has_select_for_update_skip_locked
    assert query.select_for_update_skip_locked is skip


def test_locks_leave_out_what_the_database_lacks(features):
    features(of=False, skip_locked=False)
    query = locks.locked(Message.objects.all(), of=("self",), skip_locked=True).query
    assert query.select_for_update
    assert (query.select_for_update_of, query.select_for_update_skip_locked) == ((), False)


def test_moderation_works_without_for_update_of(features, start, moderator, buyer, seller):
    """What MariaDB runs: the message is locked with its thread and sender rows."""
    features(of=False, skip_locked=False)
    posted = start(buyer, seller)
    message = moderation.hide_message(moderator, posted.message.pk, reason="rude")
    assert message.state == Message.State.HIDDEN
    assert moderation.unhide_message(moderator, posted.message.pk).state == "visible"
    assert moderation.dismiss_reports(moderator, posted.message.pk) == 0


def test_notifications_are_sent_once_without_skip_locked(
    features, start, buyer, seller, mailoutbox
):
    """The mailer's lock on a notification row: waited for instead of skipped."""
    features(of=False, skip_locked=False)
    posted = start(buyer, seller)
    tasks.notify_recipients.call(posted.message.pk)
    mailer.send_pending()
    assert [email.to for email in mailoutbox] == [["seller@example.com"]]
    assert OutboxEmail.objects.get().sent_at is not None
