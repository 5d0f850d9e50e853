import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from wagtail_messenger.exceptions import (
    InvalidMessage,
    MessengerDisabled,
    NotAllowed,
    RecipientUnavailable,
)
from wagtail_messenger.models import Message, MessengerSettings, Participant, Thread
from wagtail_messenger.services import conversations, participation, safety
from wagtail_messenger.services.parties import Party

pytestmark = pytest.mark.django_db


def test_start_thread_about_listing_creates_two_participants_and_counts_unread(
    start, buyer, seller, listing
):
    posted = start(buyer, seller, listing=listing)
    thread = posted.thread
    assert thread.listing == listing
    assert thread.listing_title == "Road bike"
    assert thread.origin == Thread.Origin.LISTING
    assert thread.message_count == 1
    assert thread.last_message == posted.message
    buyer_row = thread.participants.get(user=buyer)
    seller_row = thread.participants.get(user=seller)
    assert buyer_row.is_initiator and not seller_row.is_initiator
    assert (buyer_row.unread_count, seller_row.unread_count) == (0, 1)


def test_second_message_about_same_listing_joins_the_open_thread(start, buyer, seller, listing):
    first = start(buyer, seller, listing=listing)
    second = start(buyer, seller, listing=listing, body="Also: do you deliver?")
    assert second.thread == first.thread
    assert Thread.objects.count() == 1
    assert first.thread.participants.get(user=seller).unread_count == 2


def test_reply_updates_counters_and_inbox_order(start, actor, buyer, seller, listing):
    posted = start(buyer, seller, listing=listing)
    participation.archive(actor(buyer), posted.thread.pk)
    reply = conversations.post_message(actor=actor(seller), thread=posted.thread, body="Yes!")
    buyer_row = Participant.objects.get(thread=posted.thread, user=buyer)
    assert buyer_row.unread_count == 1
    assert buyer_row.folder == Participant.Folder.INBOX, "a reply brings an archived thread back"
    assert buyer_row.last_message_at == reply.message.created_at
    assert Participant.objects.get(thread=posted.thread, user=seller).last_read_at is not None


@pytest.mark.parametrize("body", ["", "   \n ", "x" * 5001])
def test_empty_or_overlong_bodies_are_refused_with_a_reason(start, buyer, seller, body):
    with pytest.raises(InvalidMessage) as excinfo:
        start(buyer, seller, body=body)
    assert str(excinfo.value)
    assert not Thread.objects.exists()


def test_cannot_message_yourself(start, seller):
    with pytest.raises(InvalidMessage):
        start(seller, seller)


def test_opted_out_recipient_refuses_new_threads_but_existing_go_on(start, actor, buyer, seller):
    posted = start(buyer, seller)
    safety.set_allow_contact(seller, False)
    with pytest.raises(RecipientUnavailable):
        start(buyer, seller, subject="Another question")
    conversations.post_message(actor=actor(buyer), thread=posted.thread, body="Still there?")
    assert posted.thread.messages.count() == 2


def test_stranger_cannot_post_in_a_thread(start, actor, buyer, seller, make_user):
    posted = start(buyer, seller)
    with pytest.raises(NotAllowed):
        conversations.post_message(actor=actor(make_user()), thread=posted.thread, body="Hi")
    assert posted.thread.messages.count() == 1


def test_blocked_sender_reaches_nobody_and_unblock_shows_what_arrived(start, actor, buyer, seller):
    posted = start(buyer, seller)
    participation.mark_read(actor(seller), posted.thread.pk)
    buyer_row = posted.thread.participants.get(user=buyer)
    safety.block(actor(seller), buyer_row.pk)
    seller_row = posted.thread.participants.get(user=seller)
    assert seller_row.peer_blocked

    conversations.post_message(actor=actor(buyer), thread=posted.thread, body="Hello??")
    seller_row.refresh_from_db()
    assert seller_row.unread_count == 0
    from wagtail_messenger.services import access

    seen = access.visible_messages(actor(seller), posted.thread)
    assert [m.body for m in seen] == ["Hello, is it still available?"]

    safety.unblock(actor(seller), buyer_row.pk)
    seller_row.refresh_from_db()
    assert seller_row.unread_count == 1
    assert not seller_row.peer_blocked
    assert access.visible_messages(actor(seller), posted.thread).count() == 2


def test_a_user_cannot_write_to_someone_they_blocked(start, actor, buyer, seller):
    posted = start(buyer, seller)
    safety.block(actor(buyer), posted.thread.participants.get(user=seller).pk)
    with pytest.raises(RecipientUnavailable):
        start(buyer, seller, subject="new question")


def test_double_submit_with_same_key_posts_once(start, actor, buyer, seller):
    first = start(buyer, seller, idempotency_key="k1")
    again = start(buyer, seller, idempotency_key="k1")
    assert again.created is False and again.message == first.message
    reply = conversations.post_message(
        actor=actor(seller), thread=first.thread, body="Yes", idempotency_key="k2"
    )
    reply_again = conversations.post_message(
        actor=actor(seller), thread=first.thread, body="Yes", idempotency_key="k2"
    )
    assert reply_again.message == reply.message and reply_again.created is False
    assert Message.objects.count() == 2
    buyer_row = first.thread.participants.get(user=buyer)
    assert buyer_row.unread_count == 1, "the second submit counted nothing"
    assert Thread.objects.get(pk=first.thread.pk).message_count == 2


def test_reply_key_of_someone_else_is_refused_and_writes_nothing(start, actor, buyer, seller):
    first = start(buyer, seller, idempotency_key="k1")
    conversations.post_message(
        actor=actor(buyer), thread=first.thread, body="Still there?", idempotency_key="k2"
    )
    with pytest.raises(InvalidMessage):
        conversations.post_message(
            actor=actor(seller), thread=first.thread, body="Yes", idempotency_key="k2"
        )
    assert Message.objects.count() == 2
    assert first.thread.participants.get(user=seller).unread_count == 2


def test_idempotency_key_of_someone_else_is_refused(start, buyer, seller, make_user):
    start(buyer, seller, idempotency_key="shared")
    with pytest.raises(InvalidMessage):
        start(make_user(), seller, idempotency_key="shared")


def test_messenger_switched_off_refuses(start, site, buyer, seller):
    MessengerSettings.objects.update_or_create(site=site, defaults={"enabled": False})
    with pytest.raises(MessengerDisabled):
        start(buyer, seller)


def test_guests_may_not_write_when_the_site_says_so(start, site, seller):
    MessengerSettings.objects.update_or_create(site=site, defaults={"guests_may_write": False})
    with pytest.raises(NotAllowed):
        start(Party.guest("Gus", "gus@example.com"), seller)


def test_removing_a_message_needs_the_author_and_the_setting(start, actor, site, buyer, seller):
    posted = start(buyer, seller)
    with pytest.raises(NotAllowed):
        participation.remove_message(actor(seller), posted.message.pk)
    participation.remove_message(actor(buyer), posted.message.pk)
    posted.message.refresh_from_db()
    assert posted.message.state == Message.State.REMOVED
    assert posted.thread.participants.get(user=seller).unread_count == 0

    other = conversations.post_message(actor=actor(buyer), thread=posted.thread, body="again")
    MessengerSettings.objects.update_or_create(
        site=site, defaults={"users_may_remove_messages": False}
    )
    with pytest.raises(NotAllowed):
        participation.remove_message(actor(buyer), other.message.pk)


def test_trash_is_per_person(start, actor, buyer, seller):
    posted = start(buyer, seller)
    participation.trash(actor(seller), posted.thread.pk)
    rows = {p.user: p for p in posted.thread.participants.all()}
    assert rows[seller].folder == Participant.Folder.TRASH and rows[seller].trashed_at
    assert rows[buyer].folder == Participant.Folder.INBOX
    participation.restore(actor(seller), posted.thread.pk)
    assert posted.thread.participants.get(user=seller).folder == Participant.Folder.INBOX


def test_actions_on_foreign_threads_are_refused(start, actor, buyer, seller, make_user):
    posted = start(buyer, seller)
    stranger = make_user()
    for action in (participation.mark_read, participation.set_flagged, participation.set_muted):
        with pytest.raises(NotAllowed):
            action(actor(stranger), posted.thread.pk)
    assert participation.trash(actor(stranger), [posted.thread.pk]) == 0


def test_flag_mute_and_unread(start, actor, buyer, seller):
    posted = start(buyer, seller)
    me = actor(seller)
    participation.set_flagged(me, posted.thread.pk)
    participation.set_muted(me, posted.thread.pk)
    participation.mark_read(me, posted.thread.pk)
    row = posted.thread.participants.get(user=seller)
    assert row.flagged and row.muted and row.unread_count == 0
    participation.mark_unread(me, posted.thread.pk)
    row.refresh_from_db()
    assert row.unread_count == 1


def test_report_goes_to_the_queue_once(start, actor, buyer, seller):
    posted = start(buyer, seller)
    participation.report_message(actor(seller), posted.message.pk, "rude")
    participation.report_message(actor(seller), posted.message.pk, "rude")
    assert posted.message.reports.count() == 1
    with pytest.raises(NotAllowed):
        participation.report_message(actor(buyer), posted.message.pk)


def test_deleting_a_user_keeps_the_other_partys_history(start, actor, buyer, seller):
    posted = start(buyer, seller)
    conversations.post_message(actor=actor(seller), thread=posted.thread, body="Yes")
    buyer.delete()
    thread = Thread.objects.get(pk=posted.thread.pk)
    assert thread.messages.count() == 2
    gone = thread.participants.get(is_initiator=True)
    assert gone.user is None and str(gone.display_name) == "Deleted user"


def test_listing_deletion_keeps_a_snapshot(start, buyer, seller, listing):
    posted = start(buyer, seller, listing=listing)
    url = posted.thread.listing_url
    listing.delete()
    thread = Thread.objects.get(pk=posted.thread.pk)
    assert thread.listing is None
    assert thread.listing_title == "Road bike" and thread.listing_url == url
    assert thread.listing_is_gone


def test_post_message_writes_in_a_constant_number_of_queries(start, actor, buyer, seller):
    posted = start(buyer, seller)
    me = actor(buyer)
    conversations.post_message(actor=me, thread=posted.thread, body="warm")  # team lookup
    with CaptureQueriesContext(connection) as first:
        conversations.post_message(actor=me, thread=posted.thread, body="one")
    for i in range(5):
        conversations.post_message(actor=me, thread=posted.thread, body=f"more {i}")
    with CaptureQueriesContext(connection) as later:
        conversations.post_message(actor=me, thread=posted.thread, body="last")
    assert len(later) == len(first)


def test_an_unproven_guest_cannot_join_someone_elses_thread(start, seller, listing):
    """Typing another person's email starts a new thread; it never lands in theirs."""
    theirs = start(Party.guest("Gus", "gus@example.com"), seller, listing=listing).thread
    impostor = start(
        Party.guest("Not Gus", "gus@example.com"), seller, listing=listing, confirmed=False
    )
    assert impostor.thread != theirs
    assert theirs.messages.count() == 1
    proven = start(
        Party.guest("Gus", "gus@example.com"), seller, listing=listing, sender_proven=True
    )
    assert proven.thread == theirs, "a proven guest continues their confirmed thread"
    assert Thread.objects.count() == 2


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_reply_racing_the_thread_deletion_gets_a_clear_refusal(start, actor, buyer, seller):
    """Maintenance locks and deletes the thread while a reply is being written: the reply
    waits for the lock, then is refused with a sentence (not a database error)."""
    import threading

    from django.db import connection, connections, transaction

    if connection.vendor != "postgresql":
        pytest.skip("Needs PostgreSQL's row locks: set DATABASE_URL to run it.")
    posted = start(buyer, seller)
    thread = Thread.objects.get(pk=posted.thread.pk)
    locked, release = threading.Event(), threading.Event()

    def purge():
        try:
            with transaction.atomic():
                Thread.objects.select_for_update().filter(pk=thread.pk).delete()
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    worker = threading.Thread(target=purge)
    worker.start()
    assert locked.wait(10)
    threading.Timer(0.5, release.set).start()  # commit the deletion while the reply waits
    with pytest.raises(NotAllowed) as excinfo:
        conversations.post_message(actor=actor(seller), thread=thread, body="Still there?")
    worker.join(10)
    assert "no longer exists" in str(excinfo.value)
    assert not Thread.objects.filter(pk=thread.pk).exists()


def test_replying_clears_the_repliers_own_unread_count(start, actor, buyer, seller):
    posted = start(buyer, seller)
    assert posted.thread.participants.get(user=seller).unread_count == 1
    conversations.post_message(actor=actor(seller), thread=posted.thread, body="Yes!")
    assert posted.thread.participants.get(user=seller).unread_count == 0
    assert posted.thread.participants.get(user=buyer).unread_count == 1


def test_a_reply_reaches_every_live_row_but_the_blockers_and_counts_on_the_thread(
    start, actor, seller, make_user
):
    """conversations.deliver (hot.record_delivery): a guest blocked by email reaches
    nobody who blocks them; a row whose person deleted the thread stays untouched; the
    thread counts the message and points at it."""
    from wagtail_messenger.models import Participant as P

    thread = start(Party.guest("Gus", "gus@example.com"), seller).thread
    participation.mark_read(actor(seller), thread.pk)
    safety.block(actor(seller), thread.participants.get(kind="guest").pk)
    before = thread.participants.get(user=seller)
    reply = conversations.post_message(
        actor=actor(guest_email="gus@example.com"), thread=thread, body="Hello??"
    )
    after = thread.participants.get(user=seller)
    assert after.unread_count == 0
    assert after.last_message_at == before.last_message_at < reply.message.created_at
    thread.refresh_from_db()
    assert (thread.message_count, thread.last_message_id) == (2, reply.message.pk)

    other = start(make_user("carol"), seller).thread
    P.objects.filter(thread=other, user=seller).update(folder=P.Folder.DELETED, unread_count=0)
    conversations.post_message(
        actor=actor(other.participants.get(is_initiator=True).user), thread=other, body="Anyone?"
    )
    gone = other.participants.get(user=seller)
    assert (gone.folder, gone.unread_count) == (P.Folder.DELETED, 0)
    sender = other.participants.get(is_initiator=True)
    assert sender.unread_count == 0 and sender.last_read_at is not None
