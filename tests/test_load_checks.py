"""The load test's consistency check finds what it claims to find.

``bench/load_checks.py`` is run here on threads written by the services and on real
notification emails (claimed into the ledger and the outbox, sent by the outbox, caught by
locmem and handed to the check as the SMTP sink would), with one fault brought in at a
time: a message the client was told was saved but is not there, one saved twice, an
email delivered twice or not at all, one owed but left pending in the outbox, a second
email in one "no flood" round, a counter off by some (by sequence number), a message a
poller never got (by the cursor's sequence number). A clean run of the same scenario
reports nothing.
"""

import time

import pytest
from django.core import mail

from bench.load_checks import Received, run_checks
from bench.load_clients import PollLog, Recorder, Sent
from wagtail_messenger.actors import Actor
from wagtail_messenger.models import Message, Notification, OutboxEmail, Participant
from wagtail_messenger.services import conversations, mailer, participation

pytestmark = pytest.mark.django_db


def sink():
    """What the SMTP sink would hold: locmem's outbox, in order, with arrival times."""
    received = []
    for email in mail.outbox:
        received.append(Received(time.time(), email.recipients(), email.message().as_bytes()))
        time.sleep(0.002)
    return received


@pytest.fixture
def scene(start, buyer, seller, listing):
    """The buyer asks, the seller is emailed; the buyer's client was told it was saved."""
    before = time.time()
    posted = start(buyer, seller, body="[ref c1m1] Is it still available?", listing=listing)
    after = time.time()
    mailer.send_message_notifications(posted.message.pk)
    recorder = Recorder()
    recorder.sent.append(
        Sent(
            "[ref c1m1]",
            f"user:{buyer.username}",
            "reply",
            posted.thread.pk,
            [posted.message.pk],
            1,
            before,
            after,
        )
    )
    return posted.thread, posted.message, recorder


def test_a_clean_run_reports_nothing(scene):
    thread, message, recorder = scene
    report = run_checks(recorder, sink())
    assert report["lost"] == 0
    assert report["duplicated"] == 0
    assert report["counters"]["mismatched"] == 0
    assert report["emails"]["notifications_received"] == 1
    assert report["emails"]["owed_ledger"] == 1
    assert report["messages"]["told_saved"] == 1


def test_a_message_told_saved_but_missing_is_lost(scene):
    thread, message, recorder = scene
    recorder.sent.append(
        Sent("[ref c1m2]", recorder.sent[0].actor, "reply", thread.pk, [10**6], 1, 0, 0)
    )
    report = run_checks(recorder, sink())
    assert report["messages"]["lost"] == 1
    assert report["lost"] == 1


def test_a_message_saved_twice_is_duplicated(scene):
    thread, message, recorder = scene
    Message.objects.create(thread=thread, sender=message.sender, body=message.body)
    report = run_checks(recorder, sink())
    assert report["messages"]["duplicated"] == 1
    # The copy went round the service layer: the thread's counters do not know it.
    assert report["counters"]["by_field"]["message_count"] == 1


def test_an_email_delivered_twice_is_duplicated(scene):
    received = sink()
    received.append(Received(time.time(), received[0].recipients, received[0].message.as_bytes()))
    report = run_checks(scene[2], received)
    assert report["emails"]["duplicate_message_ids"] == 1
    assert report["emails"]["same_message_twice"] == 1
    assert report["duplicated"] >= 1


def test_an_email_sent_but_not_at_the_sink_is_lost(scene):
    report = run_checks(scene[2], [])
    assert report["emails"]["ledger_not_delivered"] == 1
    assert report["lost"] >= 1


def test_an_email_left_pending_in_the_outbox_is_lost(scene):
    thread, message, recorder = scene
    received = sink()
    # As if the worker had been killed before sending: claimed, never sent.
    OutboxEmail.objects.filter(kind=OutboxEmail.Kind.NOTIFICATION).update(
        state=OutboxEmail.State.PENDING, sent_at=None
    )
    report = run_checks(recorder, [])
    assert report["emails"]["ledger_unsent"] == 1
    assert report["lost"] >= 1
    assert run_checks(recorder, received)["emails"]["ledger_unsent"] == 1


def test_an_email_nobody_claimed_is_owed_by_the_rule(scene):
    thread, message, recorder = scene
    Notification.objects.all().delete()  # as if the notification task never ran
    report = run_checks(recorder, [])
    assert report["emails"]["owed_by_rule_not_sent"] == 1
    assert report["lost"] == 1


def second_email(thread, seller, buyer):
    """The buyer writes again before the seller has read anything; an email about it
    is built and 'sent' anyway, with a ledger row, as a broken round rule would."""
    later = conversations.post_message(
        actor=Actor.for_user(buyer), thread=thread, body="[ref c1m3] Hello again?"
    ).message
    participant = Participant.objects.get(thread=thread, user=seller)
    mailer.build_message_email(participant, later, [seller.email]).send()
    Notification.objects.create(participant=participant, message=later)
    OutboxEmail.objects.create(
        kind=OutboxEmail.Kind.NOTIFICATION,
        dedup_key=f"notification:{later.pk}:{participant.pk}",
        message_id="<flood@example.com>",
        state=OutboxEmail.State.SENT,
    )
    return participant, later


def test_a_second_email_in_one_round_is_a_flood(scene, seller, buyer):
    thread, message, recorder = scene
    second_email(thread, seller, buyer)
    report = run_checks(recorder, sink())
    assert report["emails"]["second_email_in_a_round"] == 1
    assert report["duplicated"] == 1


def test_a_read_between_two_emails_makes_the_second_one_owed(scene, seller, buyer):
    thread, message, recorder = scene
    read_at = time.time()
    recorder.reads.append((f"user:{seller.username}", thread.pk, read_at, read_at + 0.01))
    time.sleep(0.02)
    second_email(thread, seller, buyer)
    report = run_checks(recorder, sink())
    assert report["emails"]["second_email_in_a_round"] == 0
    assert report["duplicated"] == 0


def test_an_unread_counter_off_from_the_recount_is_reported(scene, seller):
    thread, message, recorder = scene
    Participant.objects.filter(thread=thread, user=seller).update(unread_count=3)
    report = run_checks(recorder, sink())
    assert report["counters"]["by_field"] == {"unread_count": 1}


def test_the_unread_recount_goes_by_the_read_mark_s_sequence_number(scene, seller, buyer):
    """A read mark that covers the first message only leaves the second unread, even
    though it was set after the second was sent (what was shown, not when)."""
    thread, message, recorder = scene
    conversations.post_message(actor=Actor.for_user(buyer), thread=thread, body="[ref c1m4] Hi?")
    participation.mark_read(Actor.for_user(seller), thread.pk, seen_seq=message.seq)
    row = Participant.objects.get(thread=thread, user=seller)
    assert (row.last_read_seq, row.unread_count) == (message.seq, 1)
    assert run_checks(recorder, sink())["counters"]["mismatched"] == 0
    # Were the counter cleared by the time of the read, the recount says otherwise.
    Participant.objects.filter(pk=row.pk).update(unread_count=0)
    assert run_checks(recorder, sink())["counters"]["by_field"] == {"unread_count": 1}


def test_a_thread_whose_last_message_is_not_the_newest_is_reported(scene, seller):
    thread, message, recorder = scene
    newer = conversations.post_message(
        actor=Actor.for_user(seller), thread=thread, body="[seed t0 m1] Yes it is."
    ).message
    type(thread).objects.filter(pk=thread.pk).update(last_message=message)
    report = run_checks(recorder, sink())
    assert report["counters"]["by_field"] == {"last_message": 1}
    assert newer.seq > message.seq


def test_the_last_message_is_the_highest_sequence_number_not_the_highest_id(scene, seller):
    """A message committed after a later-created one (a higher id, a lower number: the
    late commit) is not the thread's last message."""
    thread, message, recorder = scene
    newer = conversations.post_message(
        actor=Actor.for_user(seller), thread=thread, body="[seed t0 m1] Yes it is."
    ).message
    assert run_checks(recorder, sink())["counters"]["mismatched"] == 0
    # Swap the numbers: the older row now carries the highest seq.
    Message.objects.filter(pk=message.pk).update(seq=newer.seq + 1)
    type(thread).objects.filter(pk=thread.pk).update(last_seq=newer.seq + 1)
    report = run_checks(recorder, sink())
    assert report["counters"]["by_field"]["last_message"] == 1


def test_a_message_a_poller_never_got_is_missed(scene, seller, buyer):
    thread, message, recorder = scene
    recorder.polls.append(PollLog(f"user:{buyer.username}", thread.pk, {message.pk}, message.seq))
    recorder.polls[0].seen = {message.pk}
    conversations.post_message(actor=Actor.for_user(seller), thread=thread, body="[seed t0 m1] Yes")
    report = run_checks(recorder, sink())
    assert report["polls"]["expected"] == 2
    assert report["polls"]["missed"] == 1


def test_a_missed_message_is_traced_to_what_moved_the_cursor(scene, seller, buyer):
    thread, message, recorder = scene
    log = PollLog(f"user:{buyer.username}", thread.pk, {message.pk}, message.seq)
    log.seen = {message.pk}
    recorder.polls.append(log)
    later = conversations.post_message(
        actor=Actor.for_user(seller), thread=thread, body="[seed t0 m1] Yes"
    ).message
    # The poll answered with no message but a cursor past the new one's number.
    log.moves.append(("poll", time.time(), message.seq, later.seq, [], later.seq))
    report = run_checks(recorder, sink())
    assert report["polls"]["missed_because"] == {"a poll's answer cursor": 1}


def test_the_poll_check_goes_by_sequence_numbers(scene, seller, buyer):
    """The page showed the first message; the next (a higher id, but numbered before
    the first: a late commit) is still owed to the poller from the first's number on,
    so only a higher number is owed."""
    thread, message, recorder = scene
    later = conversations.post_message(
        actor=Actor.for_user(seller), thread=thread, body="[seed t0 m1] Yes"
    ).message
    log = PollLog(f"user:{buyer.username}", thread.pk, {later.pk}, later.seq)
    log.seen = {later.pk}
    recorder.polls.append(log)
    report = run_checks(recorder, sink())
    assert (report["polls"]["expected"], report["polls"]["missed"]) == (1, 0)
    # Number the first message after the page's: the page owes it now, and never got it.
    Message.objects.filter(pk=message.pk).update(seq=later.seq + 1)
    type(thread).objects.filter(pk=thread.pk).update(last_seq=later.seq + 1, last_message=message)
    report = run_checks(recorder, sink())
    assert (report["polls"]["expected"], report["polls"]["missed"]) == (2, 1)


def test_the_simulated_page_moves_its_cursor_only_from_poll_answers():
    """The poller follows thread.js: its own reply is added to the page (by id, once)
    but leaves the cursor, which only a poll's answer moves, so a message numbered
    before the reply and committed after it is still asked for."""
    from bench.load_clients import Context, Poller

    poller = Poller(Context("http://127.0.0.1:9", None, (0, 0), 0, 0), "p0", "someone", 1)
    poller.log = PollLog("user:someone", 1, {10}, 5, {10})
    poller.add([{"id": 12}], "own reply", time.time())
    assert (poller.log.cursor, poller.log.moves) == (5, [])
    poller.add([{"id": 11}, {"id": 12}], "poll", time.time(), answer_cursor=7)
    assert poller.log.cursor == 7
    assert poller.log.seen == {10, 11, 12}
    assert poller.log.redelivered == 1
