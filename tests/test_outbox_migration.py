"""Migration 0005 (the outbox): notifications owed and not sent become pending outbox
rows, and come back as unsent notifications when migrating backwards."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from .test_migrations import APP, NOW, World, migrate

BEFORE = [(APP, "0004_portable_unique_constraints")]
AFTER = [(APP, "0005_outbox")]

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def old_apps():
    yield migrate(BEFORE)
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes(APP))


def test_unsent_notifications_move_to_the_outbox_and_back(old_apps):
    old = World(old_apps)
    buyer, seller = old.user(), old.user()
    thread = old.thread()
    sender, recipient = old.row(thread, buyer), old.row(thread, seller)
    sent = old.message(thread, sender, "k1")
    unsent = old.message(thread, sender, "k2")
    Notification = old.model("Notification")
    Notification.objects.create(participant=recipient, message=sent, sent_at=NOW, attempts=1)
    Notification.objects.create(
        participant=recipient, message=unsent, attempts=2, last_error="SMTPDataError: 451"
    )

    new = World(migrate(AFTER))
    rows = new.model("OutboxEmail").objects.all()
    assert [(r.dedup_key, r.state, r.attempts, r.last_error, r.params) for r in rows] == [
        (
            f"notification:{unsent.pk}:{recipient.pk}",
            "pending",
            2,
            "SMTPDataError: 451",
            {"participant": recipient.pk, "message": unsent.pk},
        )
    ]
    assert rows[0].message_id.startswith("<") and rows[0].message_id.endswith(">")
    assert new.model("Notification").objects.count() == 2, "who was owed what stays"

    old = World(migrate(BEFORE))
    back = {n.message_id: n for n in old.model("Notification").objects.all()}
    assert back[sent.pk].sent_at is not None
    assert (back[unsent.pk].sent_at, back[unsent.pk].attempts) == (None, 2)
    assert back[unsent.pk].last_error == "SMTPDataError: 451"
