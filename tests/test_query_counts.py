"""Reads cost the same number of queries with 10 threads and with 500."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from wagtail_messenger import selectors
from wagtail_messenger.actors import Actor
from wagtail_messenger.models import Message, Participant, Thread

pytestmark = pytest.mark.django_db


def bulk_threads(owner, others, count, messages_each=3):
    """Threads between ``owner`` and ``others`` written with bulk inserts."""
    now = timezone.now()
    threads = Thread.objects.bulk_create(
        [Thread(subject=f"Question {i}", last_message_at=now) for i in range(count)]
    )
    parts = []
    for i, thread in enumerate(threads):
        other = others[i % len(others)]
        parts.append(
            Participant(
                thread=thread,
                kind="user",
                user=owner,
                name=owner.username,
                last_message_at=now,
                unread_count=i % 3,
            )
        )
        parts.append(
            Participant(
                thread=thread,
                kind="user",
                user=other,
                name=other.username,
                last_message_at=now,
                is_initiator=True,
            )
        )
    parts = Participant.objects.bulk_create(parts)
    messages = [
        Message(thread=parts[2 * i].thread, sender=parts[2 * i + 1], body=f"message {j}")
        for i in range(count)
        for j in range(messages_each)
    ]
    Message.objects.bulk_create(messages)
    for thread in threads:
        thread.last_message = Message.objects.filter(thread=thread).last()
    Thread.objects.bulk_update(threads, ["last_message"])
    return threads


def count_queries(fn):
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx)


@pytest.mark.parametrize("reader", ["inbox", "unread", "thread_page"])
def test_reads_are_flat_from_10_to_500_threads(reader, make_user):
    owner = make_user("owner")
    others = [make_user() for _ in range(5)]
    me = Actor.for_user(owner)

    def read():
        if reader == "inbox":
            for row in selectors.inbox_page(me, size=20).rows:  # what the page shows
                _ = (
                    row.title,
                    row.last_message and row.last_message.body,
                    [p.display_name for p in row.everyone],
                )
        elif reader == "unread":
            selectors.unread_total(me)
        else:
            thread = Thread.objects.filter(participants__user=owner).order_by("pk").first()
            page = selectors.message_page(me, thread, limit=20)
            _ = [(m.sender.name, m.body) for m in page.messages]

    bulk_threads(owner, others, 10)
    read()  # warm: a user's first read also looks up their team memberships (cached)
    small = count_queries(read)
    bulk_threads(owner, others, 490)
    large = count_queries(read)
    assert small == large
    assert small <= 4, "inbox: rows + participants; thread: thread, me, blocks, page"


def test_unread_total_sums_stored_counters(make_user):
    owner = make_user("owner")
    bulk_threads(owner, [make_user()], 9)
    # counters are 0,1,2 repeating
    assert selectors.unread_total(Actor.for_user(owner)) == 9
    Participant.objects.filter(user=owner).update(folder=Participant.Folder.TRASH)
    assert selectors.unread_total(Actor.for_user(owner)) == 0


def test_team_memberships_cost_one_query_per_user_then_come_from_the_cache(make_user):
    owner = make_user("owner")
    bulk_threads(owner, [make_user()], 3)
    assert count_queries(lambda: Actor.for_user(owner).team_ids) == 1
    assert count_queries(lambda: Actor.for_user(owner).team_ids) == 0


def test_header_total_is_one_query_and_counts_team_threads(make_user, start, buyer):
    """Once the user's teams are cached, the header total (every page) is one query,
    and it counts the threads of a team the user joins."""
    from django.contrib.auth.models import Group

    from wagtail_messenger.services.parties import Party

    owner = make_user("owner")
    bulk_threads(owner, [make_user()], 3)  # unread counters 0, 1, 2
    assert selectors.unread_total(Actor.for_user(owner)) == 3
    assert count_queries(lambda: selectors.unread_total(Actor.for_user(owner))) == 1
    team = Group.objects.create(name="Support")
    owner.groups.add(team)
    start(buyer, Party.team(team))
    assert selectors.unread_total(Actor.for_user(owner)) == 3 + 1
    assert count_queries(lambda: selectors.unread_total(Actor.for_user(owner))) == 1


def counting_cache_calls(monkeypatch):
    """The calls made to the default cache from here on (``get``, ``get_many``)."""
    from django.core.cache import cache

    calls, inside = [], []

    def counted(name, original):
        def call(*args, **kwargs):
            if not inside:  # LocMemCache's get_many calls get once per key
                calls.append((name, args[0]))
            inside.append(name)
            try:
                return original(*args, **kwargs)
            finally:
                inside.pop()

        return call

    for name in ("get", "get_many"):
        monkeypatch.setattr(cache, name, counted(name, getattr(cache, name)))
    return calls


def test_team_memberships_cost_one_cache_request_once_cached(make_user, monkeypatch):
    """Every messenger request asks which teams the user is in; with a shared cache
    (Redis, a network round trip each) that is one request, not one per key."""
    owner = make_user("owner")
    assert Actor.for_user(owner).team_ids == []  # worked out, then cached
    calls = counting_cache_calls(monkeypatch)
    assert Actor.for_user(owner).team_ids == []
    assert [name for name, _ in calls] == ["get_many"]


def test_a_page_asks_for_the_team_list_once(client, make_user, monkeypatch):
    """The inbox view and the header widget share the request's actor
    (``Actor.from_request``), so the page asks the cache for the teams once."""
    from django.urls import reverse

    owner = make_user("owner")
    client.force_login(owner)
    client.get(reverse("wagtail_messenger:inbox"))  # the team list is cached now
    calls = counting_cache_calls(monkeypatch)
    assert client.get(reverse("wagtail_messenger:inbox")).status_code == 200
    team_requests = [
        keys for name, keys in calls if name == "get_many" and any("teams" in key for key in keys)
    ]
    assert len(team_requests) == 1, calls


def test_joining_a_team_shows_its_threads_at_once(start, buyer, make_user):
    from django.contrib.auth.models import Group

    from wagtail_messenger.services.parties import Party

    team = Group.objects.create(name="Support")
    posted = start(buyer, Party.team(team))
    newcomer = make_user("newcomer")
    assert selectors.inbox_page(Actor.for_user(newcomer), size=5).rows == []  # cached: no teams
    newcomer.groups.add(team)
    rows = selectors.inbox_page(Actor.for_user(newcomer), size=5).rows
    assert [r.thread_id for r in rows] == [posted.thread.pk]
