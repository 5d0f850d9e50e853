"""What the database itself refuses, whichever database the suite runs on (SQLite by
default, PostgreSQL or MariaDB through ``DATABASE_URL``): one message per idempotency
key, one row per user in a thread, one block per person. None of these may depend on a
partial index, which MySQL and MariaDB do not have: "none" is NULL, distinct on all of
them, and the constraints are plain."""

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from wagtail_messenger.models import Block, Message, Participant, Thread
from wagtail_messenger.services import conversations, safety
from wagtail_messenger.services.parties import Party

pytestmark = pytest.mark.django_db


def refused():
    """The insert fails inside a savepoint, so the test's transaction goes on."""
    return pytest.raises(IntegrityError)


def new_message(thread, sender, key):
    return Message.objects.create(thread=thread, sender=sender, body="Hi", idempotency_key=key)


# -- one message per submit ----------------------------------------------------------------


def test_a_second_message_with_the_same_key_is_refused_by_the_database(start, buyer, seller):
    posted = start(buyer, seller, idempotency_key="k1")
    with refused(), transaction.atomic():
        new_message(posted.thread, posted.message.sender, "k1")
    assert Message.objects.filter(idempotency_key="k1").count() == 1


def test_messages_without_a_key_store_null_and_are_not_limited(start, actor, buyer, seller):
    posted = start(buyer, seller, idempotency_key="")
    conversations.post_message(actor=actor(seller), thread=posted.thread, body="Yes")
    conversations.post_message(
        actor=actor(seller), thread=posted.thread, body="Still", idempotency_key=""
    )
    new_message(posted.thread, posted.message.sender, None)
    assert list(Message.objects.values_list("idempotency_key", flat=True)) == [None] * 4


def test_a_double_submit_that_misses_the_first_in_the_lookup_still_posts_once(
    start, actor, buyer, seller, monkeypatch
):
    """Two submits racing: the second one's lookup ran before the first was saved, so
    only the unique constraint stands between it and a second message (a reply has no
    lookup before its insert at all). The service returns the first message and counts
    nothing twice."""
    first = start(buyer, seller, idempotency_key="k1")
    real, lookups = conversations._previous_submit, []

    def blind_first_time(key, sender_filter):
        lookups.append(key)
        return None if len(lookups) == 1 else real(key, sender_filter)

    monkeypatch.setattr(conversations, "_previous_submit", blind_first_time)
    again = start(buyer, seller, idempotency_key="k1")
    assert (again.message, again.created) == (first.message, False)
    assert lookups == ["k1", "k1"], "refused by the database, then found"
    monkeypatch.undo()
    reply = conversations.post_message(
        actor=actor(seller), thread=first.thread, body="Yes", idempotency_key="k2"
    )
    reply_again = conversations.post_message(
        actor=actor(seller), thread=first.thread, body="Yes", idempotency_key="k2"
    )
    assert (reply_again.message, reply_again.created) == (reply.message, False)
    assert Message.objects.count() == 2
    assert Thread.objects.count() == 1
    rows = first.thread.participants
    assert (rows.get(user=buyer).unread_count, rows.get(user=seller).unread_count) == (1, 0)


# -- one row per person --------------------------------------------------------------------


def participant_row(thread, **fields):
    return Participant.objects.create(
        thread=thread, name="Someone", last_message_at=timezone.now(), **fields
    )


def test_a_second_row_for_the_same_user_in_a_thread_is_refused(start, buyer, seller, make_user):
    thread = start(buyer, seller).thread
    with refused(), transaction.atomic():
        participant_row(thread, kind=Participant.Kind.USER, user=seller)
    assert thread.participants.filter(user=seller).count() == 1
    other = start(make_user(), seller).thread
    assert other.participants.filter(user=seller).count() == 1, "one per thread, not overall"


def test_rows_without_a_user_are_not_limited(start, seller):
    """Guests, teams, invitees and deleted accounts have no user: NULL is distinct."""
    thread = start(Party.guest("Gus", "gus@example.com"), seller).thread
    participant_row(thread, kind=Participant.Kind.GUEST, email="ann@example.com")
    participant_row(thread, kind=Participant.Kind.INVITEE, email="bo@example.com")
    assert thread.participants.filter(user__isnull=True).count() == 3


# -- one block per person ------------------------------------------------------------------


def test_a_second_block_of_the_same_account_is_refused(buyer, seller, make_user):
    Block.objects.create(blocker=seller, blocked_user=buyer)
    with refused(), transaction.atomic():
        Block.objects.create(blocker=seller, blocked_user=buyer)
    Block.objects.create(blocker=seller, blocked_user=make_user())  # another person
    Block.objects.create(blocker=buyer, blocked_user=seller)  # another blocker
    assert list(Block.objects.values_list("blocked_email", flat=True)) == [None] * 3


def test_a_second_block_of_the_same_address_is_refused(seller, buyer):
    Block.objects.create(blocker=seller, blocked_email="gus@example.com")
    with refused(), transaction.atomic():
        Block.objects.create(blocker=seller, blocked_email="gus@example.com")
    Block.objects.create(blocker=seller, blocked_email="ann@example.com")
    Block.objects.create(blocker=buyer, blocked_email="gus@example.com")
    assert Block.objects.count() == 3


@pytest.mark.parametrize("email", [None, ""])
def test_a_block_of_nobody_is_refused(seller, email):
    with refused(), transaction.atomic():
        Block.objects.create(blocker=seller, blocked_email=email)


def test_blocking_through_the_service_stores_null_for_the_missing_half(start, actor, buyer, seller):
    thread = start(buyer, seller).thread
    safety.block(actor(seller), thread.participants.get(user=buyer).pk)
    guest_thread = start(Party.guest("Gus", "gus@example.com"), seller).thread
    safety.block(actor(seller), guest_thread.participants.get(kind="guest").pk)
    safety.block(actor(seller), guest_thread.participants.get(kind="guest").pk)  # again
    assert set(Block.objects.values_list("blocked_user", "blocked_email")) == {
        (buyer.pk, None),
        (None, "gus@example.com"),
    }


def test_blocks_against_someone_with_neither_account_nor_address_are_none(seller, buyer):
    Block.objects.create(blocker=seller, blocked_user=buyer)
    nobody = Participant(kind=Participant.Kind.USER, user=None, email="")
    assert not Block.objects.against(nobody).exists(), "NULL matches no block"
    assert Block.objects.against(Party.for_user(buyer)).count() == 1
