"""Nothing lost between commits: the poll's cursor follows the order messages were
committed (``Message.seq``), read marks cover only what the reader was shown, counters
agree with a recount under concurrent replies, a reply saves a trashed thread (from the
maintenance job too), and showing a page (GET, HEAD) changes nothing.

The races run on PostgreSQL with real second connections (threads), as a gunicorn
deployment has them; the rest runs everywhere."""

import threading
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.db import connection, transaction
from django.db.models import Count
from django.db.models.signals import post_save
from django.utils import timezone

from wagtail_messenger import selectors
from wagtail_messenger.models import (
    AccessToken,
    Message,
    MessengerSettings,
    Notification,
    OutboxEmail,
    Participant,
    Thread,
)
from wagtail_messenger.services import conversations, guests, maintenance, moderation, participation
from wagtail_messenger.services.parties import Party

pytestmark = pytest.mark.django_db

committing = pytest.mark.django_db(transaction=True)
on_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="races need PostgreSQL (set DATABASE_URL)"
)


def racing(test):
    """On PostgreSQL, with real commits seen by other connections."""
    return pytest.mark.postgres_only(on_postgres(committing(test)))


def in_other_connection(fn):
    """Run ``fn`` in another thread, hence on its own database connection."""
    errors = []

    def target():
        try:
            fn()
        except Exception as error:  # reported to the test
            errors.append(error)
        finally:
            connection.close()

    worker = threading.Thread(target=target)
    worker.start()
    return worker, errors


def join(*workers):
    for worker, errors in workers:
        worker.join(timeout=30)
        assert not worker.is_alive(), "a worker is stuck"
        assert not errors, errors


def reply(actor, user, thread_id, body):
    return conversations.post_message(
        actor=actor(user), thread=Thread.objects.get(pk=thread_id), body=body
    )


class Page:
    """What thread.js does with a thread page: the cursor the page was given, then the
    polls, each from the cursor the last one answered; ``shown`` collects the texts."""

    def __init__(self, client, thread):
        self.client, self.thread = client, thread
        response = client.get(thread.get_absolute_url())
        self.cursor = response.context["live_config"]["cursor"]
        self.shown = [m.body for m in response.context["page"].messages]

    def poll(self):
        response = self.client.get(f"/messages/{self.thread.pk}/poll/?after={self.cursor}")
        if response.status_code == 200:
            data = response.json()
            self.cursor = data["cursor"]
            ids = [m["id"] for m in data["messages"]]
            self.shown += list(Message.objects.filter(pk__in=ids).values_list("body", flat=True))
        return response.status_code


@pytest.fixture
def paused():
    """``paused(body)``: the transaction that saves a message with that text stops
    right after the message's INSERT (a ``post_save`` receiver, as a slow request would
    be there) until ``.go`` is set; ``.written`` is set when it got there."""
    receivers = []

    def pause(body):
        written, go = threading.Event(), threading.Event()

        def receiver(sender, instance, created, **kwargs):
            if created and instance.body == body:
                written.set()
                assert go.wait(timeout=30)

        post_save.connect(receiver, sender=Message, weak=False)
        receivers.append(receiver)
        return written, go

    yield pause
    for receiver in receivers:
        post_save.disconnect(receiver, sender=Message)


@pytest.fixture
def thread(start, buyer, seller):
    return start(buyer, seller, subject="The bike").thread


def hold_casino(site):
    MessengerSettings.objects.update_or_create(
        site=site, defaults={"blocked_words": "casino", "spam_threshold": 1}
    )


# -- live updates ---------------------------------------------------------------------


@racing
def test_a_message_that_commits_late_reaches_the_open_page(
    client, thread, actor, buyer, seller, paused
):
    """A reply whose transaction started first (and took the lower id) commits after a
    later one: the page that polled in between still gets both."""
    client.force_login(buyer)
    page = Page(client, thread)
    written, go = paused("slow reply")
    slow = in_other_connection(lambda: reply(actor, seller, thread.pk, "slow reply"))
    assert written.wait(timeout=30)
    quick = in_other_connection(lambda: reply(actor, seller, thread.pk, "quick reply"))
    quick[0].join(timeout=2)  # it commits at once, or waits for the first one's lock
    page.poll()
    go.set()
    join(slow, quick)
    page.poll()
    assert sorted(page.shown[1:]) == ["quick reply", "slow reply"]


def test_a_released_message_reaches_the_open_page(
    client, site, thread, actor, buyer, seller, moderator
):
    """Held, then released by a moderator after later messages: the page gets it."""
    hold_casino(site)
    client.force_login(buyer)
    held = reply(actor, seller, thread.pk, "casino bonus, or a bike?").message
    assert held.state == Message.State.HELD
    reply(actor, seller, thread.pk, "later message")
    page = Page(client, thread)
    assert page.shown[-1] == "later message"
    moderation.release_message(moderator, held.pk)
    assert page.poll() == 200
    assert page.shown[-1] == "casino bonus, or a bike?"


@racing
def test_a_commit_between_the_polls_reads_is_not_skipped(
    client, thread, actor, buyer, seller, monkeypatch
):
    """A message committed while the poll answers (after its read of the messages) is
    brought by the next poll."""
    client.force_login(buyer)
    page = Page(client, thread)
    reply(actor, seller, thread.pk, "first")
    real = selectors.messages_after

    def then_a_commit(*args, **kwargs):
        found = real(*args, **kwargs)
        join(in_other_connection(lambda: reply(actor, seller, thread.pk, "in between")))
        return found

    monkeypatch.setattr(selectors, "messages_after", then_a_commit)
    page.poll()
    monkeypatch.setattr(selectors, "messages_after", real)
    page.poll()
    assert page.shown[1:] == ["first", "in between"]


# -- read marks and emails ------------------------------------------------------------


@racing
def test_a_message_committed_just_after_the_page_was_read_is_emailed(
    client, site, thread, actor, buyer, seller, mailoutbox, paused
):
    """The seller opens the thread while the buyer's reply is being committed: the page
    does not show it, so it stays unread and the seller gets an email about it (the
    "already read" rule; every message is emailed here, so no round rule interferes)."""
    MessengerSettings.objects.update_or_create(site=site, defaults={"notification_mode": "every"})
    mailoutbox.clear()
    written, go = paused("Can you ship it?")
    writer = in_other_connection(lambda: reply(actor, buyer, thread.pk, "Can you ship it?"))
    assert written.wait(timeout=30)
    client.force_login(seller)
    page = Page(client, thread)
    assert "Can you ship it?" not in page.shown
    # What thread.js posts once the page is visible (it waits for the reply's lock).
    reader = in_other_connection(
        lambda: client.post(f"/messages/{thread.pk}/read/", {"seen": page.cursor})
    )
    reader[0].join(timeout=1)
    go.set()
    join(writer, reader)
    assert Participant.objects.get(thread=thread, user=seller).unread_count == 1
    owed = Notification.objects.get(participant__user=seller, message__body="Can you ship it?")
    sent = OutboxEmail.objects.get(
        dedup_key=f"notification:{owed.message_id}:{owed.participant_id}"
    )
    assert sent.state == OutboxEmail.State.SENT
    assert any("Can you ship it?" in m.body for m in mailoutbox if m.to == ["seller@example.com"])


def test_a_late_read_mark_opens_a_new_round_for_what_is_still_unread(
    client, site, thread, actor, buyer, seller, mailoutbox, django_capture_on_commit_callbacks
):
    """One email per round ("no flood"): the seller was emailed about a message and a
    second one came before they read it, so it was not emailed. Their page, which
    showed the first one, marks it read only then: a new round begins with the second
    message still unread, and it is emailed now (it would otherwise wait, unread and
    untold, for a third)."""
    to_seller = lambda: [m for m in mailoutbox if m.to == ["seller@example.com"]]  # noqa: E731
    commits = django_capture_on_commit_callbacks  # the emails go after each commit
    with commits(execute=True):
        reply(actor, buyer, thread.pk, "Is it still for sale?")
    client.force_login(seller)
    page = Page(client, thread)  # shows it; the read mark is still to be posted
    before = len(to_seller())
    assert before == 1  # the round's email
    with commits(execute=True):
        reply(actor, buyer, thread.pk, "I can collect tomorrow.")
    assert len(to_seller()) == before  # the same round: no second email yet
    with commits(execute=True):
        client.post(f"/messages/{thread.pk}/read/", {"seen": page.cursor})
    emails = to_seller()[before:]
    assert len(emails) == 1 and "I can collect tomorrow." in emails[0].body
    # Reading it too ends that round quietly: nothing more is sent.
    page.poll()
    with commits(execute=True):
        client.post(f"/messages/{thread.pk}/read/", {"seen": page.cursor})
    assert len(to_seller()) == before + 1


def test_a_read_mark_covers_only_what_the_page_showed(client, thread, actor, buyer, seller):
    client.force_login(seller)
    page = Page(client, thread)
    reply(actor, buyer, thread.pk, "Still there?")
    assert client.post(f"/messages/{thread.pk}/read/", {"seen": page.cursor}).json() == {
        "ok": True,
        "unread": 1,
    }
    page.poll()
    client.post(f"/messages/{thread.pk}/read/", {"seen": page.cursor})
    row = Participant.objects.get(thread=thread, user=seller)
    assert (row.unread_count, row.last_read_seq) == (0, 2)
    # An older tab posting what it showed does not move the mark back.
    client.post(f"/messages/{thread.pk}/read/", {"seen": 1})
    assert Participant.objects.get(pk=row.pk).last_read_seq == 2
    assert client.post(f"/messages/{thread.pk}/read/", {"seen": "x"}).status_code == 400
    assert client.get(f"/messages/{thread.pk}/read/").status_code == 405


def recount(thread_id):
    """The thread's figures and everybody's unread counters counted from the messages:
    a person has read everything up to their own latest message (replying reads)."""
    messages = list(Message.objects.filter(thread_id=thread_id).order_by("created_at", "pk"))
    last = messages[-1]
    unread = {}
    for person in Participant.objects.filter(thread_id=thread_id):
        after_own = 0
        for message in messages:
            after_own = 0 if message.sender_id == person.pk else after_own + 1
        unread[person.pk] = after_own
    return (last.pk, last.created_at, len(messages)), unread


@racing
def test_simultaneous_replies_leave_counters_that_agree_with_a_recount(
    thread, actor, buyer, seller
):
    rounds, wrong = 100, []
    for n in range(rounds):
        both = threading.Barrier(2)

        def send(user, n=n, both=both):
            both.wait(timeout=30)
            reply(actor, user, thread.pk, f"{user.username} {n}")

        join(in_other_connection(lambda: send(buyer)), in_other_connection(lambda: send(seller)))
        row = Thread.objects.get(pk=thread.pk)
        stored = (
            (row.last_message_id, row.last_message_at, row.message_count),
            dict(Participant.objects.filter(thread=thread).values_list("pk", "unread_count")),
        )
        if stored != recount(thread.pk):
            wrong.append(n)
    assert wrong == []
    seqs = Message.objects.filter(thread=thread).aggregate(n=Count("seq", distinct=True))
    assert seqs["n"] == 2 * rounds + 1


# -- trash ----------------------------------------------------------------------------


def test_a_reply_brings_a_trashed_thread_back_to_the_inbox(client, thread, actor, buyer, seller):
    participation.trash(actor(seller), thread.pk)
    reply(actor, buyer, thread.pk, "Are you still selling?")
    row = Participant.objects.get(thread=thread, user=seller)
    assert (row.folder, row.trashed_at, row.unread_count) == ("inbox", None, 2)
    client.force_login(seller)
    rows = selectors.inbox_page(actor(seller), "inbox", size=20).rows
    assert [r.thread_id for r in rows] == [thread.pk]


def trashed_long_ago(thread, user, now):
    """``user``'s row in the trash for 40 days, nothing sent since."""
    long_ago = now - timedelta(days=40)
    Thread.objects.filter(pk=thread.pk).update(last_message_at=long_ago - timedelta(days=1))
    Participant.objects.filter(thread=thread).update(last_message_at=long_ago - timedelta(days=1))
    Participant.objects.filter(thread=thread, user=user).update(folder="trash", trashed_at=long_ago)


def test_empty_trash_keeps_a_thread_that_got_a_reply_since(thread, site, actor, buyer, seller):
    now = timezone.now()
    trashed_long_ago(thread, seller, now)
    reply(actor, buyer, thread.pk, "Hello again")
    maintenance.empty_trash(now=now + timedelta(minutes=1), days=30)
    row = Participant.objects.get(thread=thread, user=seller)
    assert (row.folder, row.unread_count) == ("inbox", 2)


@racing
def test_empty_trash_loses_no_reply_committed_after_the_rows_were_picked(
    start, site, actor, buyer, seller
):
    now = timezone.now()
    threads = [start(buyer, seller, subject=f"Bike {n}").thread for n in range(3)]
    for each in threads:
        trashed_long_ago(each, seller, now)

    def replies(stage, batch, ids):
        if stage == "picked" and batch == 1:
            join(
                *(
                    in_other_connection(lambda t=t: reply(actor, buyer, t.pk, "Hi!"))
                    for t in threads
                )
            )

    maintenance.empty_trash(now=now, days=30, checkpoint=replies)
    for each in threads:
        row = Participant.objects.get(thread=each, user=seller)
        assert (row.folder, row.unread_count) == ("inbox", 2)


@racing
def test_empty_trash_skips_a_thread_whose_reply_is_being_written(start, site, actor, buyer, seller):
    now = timezone.now()
    saved = start(buyer, seller, subject="Saved").thread
    emptied = start(buyer, seller, subject="Emptied").thread
    for each in (saved, emptied):
        trashed_long_ago(each, seller, now)
    written, job_done = threading.Event(), threading.Event()

    def slow():
        with transaction.atomic():
            reply(actor, buyer, saved.pk, "Wait, I still want it")
            written.set()
            assert job_done.wait(timeout=30)

    writer = in_other_connection(slow)
    assert written.wait(timeout=30)
    try:
        result = maintenance.empty_trash(now=now, days=30)
    finally:
        job_done.set()
        join(writer)
    assert result.participants_moved == 1
    folders = dict(Participant.objects.filter(user=seller).values_list("thread_id", "folder"))
    assert folders == {saved.pk: "inbox", emptied.pk: "deleted"}


# -- reading changes nothing ----------------------------------------------------------


def snapshot():
    """Every row of the conversation tables, column by column."""
    return {
        model.__name__: sorted(repr(sorted(r.items())) for r in model.objects.values())
        for model in (Thread, Participant, Message, Notification)
    }


def test_get_and_head_change_nothing(client, site, thread, actor, buyer, seller):
    reply(actor, buyer, thread.pk, "Anyone?")
    guest_thread = conversations.start_thread(
        sender=Party.guest("Gail", "gail@example.com"),
        recipient=Party.for_user(seller),
        body="A guest's question",
        site=site,
    ).thread
    # Opening the link once confirms the typed address (the proof of receipt, see
    # tests/test_identity.py); here the address is already confirmed, so the landing
    # has nothing to confirm and must change nothing.
    Participant.objects.filter(thread=guest_thread, kind=Participant.Kind.GUEST).update(
        email_verified=True
    )
    link = urlsplit(guests.issue_link("gail@example.com", thread=guest_thread)).path
    before = snapshot()
    client.force_login(seller)
    for method in (client.get, client.head):
        assert method(thread.get_absolute_url()).status_code == 200
        assert method(f"/messages/{thread.pk}/poll/?after=0").status_code == 200
        assert method(f"/messages/{thread.pk}/older/").status_code == 200
    guest = client.__class__()
    for method in (guest.get, guest.head):
        landing = method(link)
        assert landing.status_code == 302
        assert method(landing["Location"]).status_code == 200
    assert snapshot() == before
    assert AccessToken.objects.count() == 1
