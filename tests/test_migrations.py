"""Migration 0004 (portable unique constraints) on the database the suite runs on: the
"" that meant "no key" and "no address" become NULL and come back when migrating
backwards, and on MySQL and MariaDB, where the old conditional constraints were never
created, the rows that broke them are resolved so that the new ones can be."""

import datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

APP = "wagtail_messenger"
BEFORE = [(APP, "0003_messengersettings_show_unread_badge")]
AFTER = [(APP, "0004_portable_unique_constraints")]

# Schema changes commit: a flush after each test, as other transactional tests do.
pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def migrate(target):
    """Migrate this app to ``target``; the models as they were there."""
    executor = MigrationExecutor(connection)
    executor.migrate(target)
    return executor.loader.project_state(target).apps


@pytest.fixture
def old_apps():
    """The models at 0003, then the schema back at the latest migration whatever the
    test did (the flush after the test empties the tables)."""
    yield migrate(BEFORE)
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes(APP))


class World:
    """Rows made with the models of one migration state."""

    def __init__(self, apps):
        self.apps = apps
        self.users = 0

    def model(self, name):
        app = "auth" if name == "User" else APP
        return self.apps.get_model(app, name)

    def user(self):
        self.users += 1
        return self.model("User").objects.create(username=f"u{self.users}")

    def thread(self):
        return self.model("Thread").objects.create(last_message_at=NOW)

    def row(self, thread, user=None, **fields):
        fields.setdefault("kind", "user" if user else "guest")
        return self.model("Participant").objects.create(
            thread=thread, user=user, name="Someone", last_message_at=NOW, **fields
        )

    def message(self, thread, sender, key, **fields):
        return self.model("Message").objects.create(
            thread=thread, sender=sender, body="Hi", idempotency_key=key, **fields
        )

    def block(self, blocker, **target):
        return self.model("Block").objects.create(blocker=blocker, **target)


def test_empty_keys_and_addresses_become_null_and_back(old_apps):
    old = World(old_apps)
    seller, buyer = old.user(), old.user()
    thread = old.thread()
    sender = old.row(thread, buyer)
    keyed = old.message(thread, sender, "k1").pk
    unkeyed = old.message(thread, sender, "").pk
    by_account = old.block(seller, blocked_user=buyer, blocked_email="").pk
    by_address = old.block(seller, blocked_email="gus@example.com").pk

    new = World(migrate(AFTER))
    keys = dict(new.model("Message").objects.values_list("pk", "idempotency_key"))
    assert keys == {keyed: "k1", unkeyed: None}
    emails = dict(new.model("Block").objects.values_list("pk", "blocked_email"))
    assert emails == {by_account: None, by_address: "gus@example.com"}

    old = World(migrate(BEFORE))
    keys = dict(old.model("Message").objects.values_list("pk", "idempotency_key"))
    assert keys == {keyed: "k1", unkeyed: ""}
    emails = dict(old.model("Block").objects.values_list("pk", "blocked_email"))
    assert emails == {by_account: "", by_address: "gus@example.com"}


def test_rows_that_broke_the_old_constraints_are_resolved(old_apps):
    """Only MySQL and MariaDB could hold them (Django left the conditional constraints
    out there); elsewhere the constraints of 0001 refuse these inserts."""
    if connection.features.supports_partial_indexes:
        pytest.skip("Only where 0001's conditional constraints were not created (MySQL).")
    old = World(old_apps)
    seller, buyer, guest_seller = old.user(), old.user(), old.user()
    thread = old.thread()
    first = old.row(thread, buyer, folder="trash", unread_count=1, is_initiator=True)
    second = old.row(thread, buyer, unread_count=3, flagged=True)
    seller_row = old.row(thread, seller)
    one = old.message(thread, first, "k1")
    two = old.message(thread, second, "k1")  # the double submit that posted twice
    three = old.message(thread, second, "")
    old.model("Notification").objects.create(participant=first, message=three)
    old.model("Notification").objects.create(participant=second, message=three)
    old.model("Notification").objects.create(participant=second, message=two)
    old.model("Report").objects.create(message=one, reporter=second)
    earlier = old.block(seller, blocked_user=buyer, blocked_email="")
    old.block(seller, blocked_user=buyer, blocked_email="")
    old.block(guest_seller, blocked_email="gus@example.com")
    old.block(guest_seller, blocked_email="gus@example.com")
    old.block(guest_seller, blocked_user=seller, blocked_email="")

    new = World(migrate(AFTER))
    messages = new.model("Message").objects.order_by("pk")
    assert list(messages.values_list("pk", "sender_id", "idempotency_key")) == [
        (one.pk, first.pk, "k1"),
        (two.pk, first.pk, None),
        (three.pk, first.pk, None),
    ], "every message kept, the key on the first only, all from the one row left"
    rows = new.model("Participant").objects.order_by("pk")
    assert list(rows.values_list("pk", flat=True)) == [first.pk, seller_row.pk]
    merged = rows.get(pk=first.pk)
    assert (merged.folder, merged.unread_count, merged.flagged, merged.is_initiator) == (
        "inbox",
        3,
        True,
        True,
    )
    notifications = new.model("Notification").objects.order_by("message_id")
    assert list(notifications.values_list("participant_id", "message_id")) == [
        (first.pk, two.pk),
        (first.pk, three.pk),
    ]
    assert new.model("Report").objects.get().reporter_id == first.pk
    blocks = new.model("Block").objects.order_by("pk")
    assert list(blocks.values_list("blocker_id", "blocked_user_id", "blocked_email")) == [
        (seller.pk, buyer.pk, None),
        (guest_seller.pk, None, "gus@example.com"),
        (guest_seller.pk, seller.pk, None),
    ]
    assert blocks.first().pk == earlier.pk


SEQUENCE_BEFORE = [(APP, "0005_outbox")]
SEQUENCE_AFTER = [(APP, "0006_delivery_sequence")]


def test_existing_messages_are_numbered_in_the_order_they_were_sent(old_apps):
    """0006 numbers each thread's delivered messages by time (then id), held ones
    excepted, and a read mark covers what was sent up to the person's last read."""
    old = World(migrate(SEQUENCE_BEFORE))
    buyer, seller = old.user(), old.user()
    thread, other = old.thread(), old.thread()
    hour = datetime.timedelta(hours=1)
    reader = old.row(thread, seller, last_read_at=NOW + 2 * hour)
    never = old.row(thread, buyer)
    late_id_early_time = old.message(thread, never, None, created_at=NOW + hour)
    first = old.message(thread, never, None, created_at=NOW)
    held = old.message(thread, never, None, created_at=NOW + hour, state="held")
    last = old.message(thread, reader, None, created_at=NOW + 3 * hour)
    alone = old.message(other, old.row(other, buyer), None, created_at=NOW)

    new = World(migrate(SEQUENCE_AFTER))
    seqs = dict(new.model("Message").objects.values_list("pk", "seq"))
    assert seqs == {
        first.pk: 1,
        late_id_early_time.pk: 2,
        held.pk: None,
        last.pk: 3,
        alone.pk: 1,
    }
    last_seqs = dict(new.model("Thread").objects.values_list("pk", "last_seq"))
    assert last_seqs == {thread.pk: 3, other.pk: 1}
    marks = dict(
        new.model("Participant").objects.filter(thread=thread.pk).values_list("pk", "last_read_seq")
    )
    assert marks == {reader.pk: 2, never.pk: 0}


ROUND_BEFORE = [(APP, "0008_unverified_guests_and_proven_addresses")]
ROUND_AFTER = [(APP, "0009_participant_notified_seq")]


def test_a_round_in_progress_stays_in_progress(old_apps):
    """0009 keeps each "no flood" round where the old rule (read time against email
    time) had it: one emailed and not read since is still in the round (their read mark
    just short of ``notified_seq``), one who read since, or was never emailed, is not."""
    old = World(migrate(ROUND_BEFORE))
    thread = old.thread()
    hour = datetime.timedelta(hours=1)
    waiting = old.row(thread, old.user(), notified_at=NOW, last_read_at=NOW - hour)
    unread = old.row(thread, old.user(), notified_at=NOW)
    read_since = old.row(thread, old.user(), notified_at=NOW, last_read_at=NOW + hour)
    never = old.row(thread, old.user())
    old.model("Participant").objects.filter(pk=waiting.pk).update(last_read_seq=4)

    new = World(migrate(ROUND_AFTER))
    rows = new.model("Participant").objects.values_list("pk", "last_read_seq", "notified_seq")
    in_round = {pk for pk, read, notified in rows if read < notified}
    assert in_round == {waiting.pk, unread.pk}
    assert dict((pk, notified) for pk, _read, notified in rows)[waiting.pk] == 5
    assert read_since.pk not in in_round and never.pk not in in_round
