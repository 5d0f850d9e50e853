"""The reads the busiest pages repeat (wagtail_messenger.selectors, access.open_thread)
give every kind of actor (a user, a team member, a guest, a stranger, a moderator) what
the visibility rule and the stored counters say, in inbox order, from any cursor."""

import pytest
from django.contrib.auth.models import Group

from wagtail_messenger import selectors
from wagtail_messenger.actors import Actor
from wagtail_messenger.models import Participant, Thread
from wagtail_messenger.services import conversations, participation
from wagtail_messenger.services.parties import Party
from wagtail_messenger.views.threads import poll_state

pytestmark = pytest.mark.django_db


def orm_poll_state(actor, thread, after):
    if not Thread.objects.participating(actor).filter(pk=thread.pk).exists():
        return None
    return thread.messages.filter(pk__gt=after).exists()


@pytest.fixture
def people(start, buyer, seller, make_user):
    team = Group.objects.create(name="Support")
    alice = make_user("alice")
    team.user_set.add(alice)
    guest = Party.guest("Gus", "Gus@Example.com")
    threads = [
        start(buyer, seller).thread,
        start(guest, seller, body="Is the bike still there?").thread,
        start(buyer, Party.team(team), body="Hello team").thread,
        start(guest, Party.team(team), body="Hello again").thread,
    ]
    conversations.post_message(actor=Actor.for_user(seller), thread=threads[1], body="Yes")
    conversations.post_message(actor=Actor.for_user(seller), thread=threads[1], body="Come")
    return {
        "buyer": Actor.for_user(buyer),
        "seller": Actor.for_user(seller),
        "team member": Actor.for_user(alice),
        "guest": Actor.for_guest("gus@example.com"),
        "stranger": Actor.for_user(make_user("stranger")),
        "threads": threads,
    }


ACTORS = ["buyer", "seller", "team member", "guest", "stranger"]


@pytest.mark.parametrize("who", ACTORS)
def test_header_total_matches_the_stored_counters(people, who):
    actor = people[who]
    assert selectors.unread_total(actor) == Participant.objects.unread_total(actor)


def test_header_totals_count_what_each_person_has_not_read(people):
    totals = {who: selectors.unread_total(people[who]) for who in ACTORS}
    # seller: the buyer's first message (answering the guest read theirs); guest: the
    # seller's two replies; team: two threads started with it; buyer: only wrote.
    assert totals == {"buyer": 0, "seller": 1, "team member": 2, "guest": 2, "stranger": 0}
    participation.mark_read(people["team member"], people["threads"][2].pk)
    assert selectors.unread_total(people["team member"]) == 1


def test_trashed_threads_leave_the_header_total(people):
    seller = people["seller"]
    participation.trash(seller, people["threads"][0].pk)
    assert selectors.unread_total(seller) == 0 == Participant.objects.unread_total(seller)
    participation.restore(seller, people["threads"][0].pk)
    assert selectors.unread_total(seller) == 1


@pytest.mark.parametrize("who", ACTORS)
def test_poll_check_matches_participation(people, who):
    actor = people[who]
    for thread in people["threads"]:
        newest = thread.messages.order_by("-pk").values_list("pk", flat=True).first()
        for after in (0, newest):
            assert selectors.poll_state(actor, thread.pk, after) == orm_poll_state(
                actor, thread, after
            )


def test_poll_finds_nothing_in_a_thread_the_person_deleted(people):
    seller, thread = people["seller"], people["threads"][0]
    assert selectors.poll_state(seller, thread.pk, 0) is True
    Participant.objects.filter(thread=thread, user=seller.user).update(
        folder=Participant.Folder.DELETED
    )
    assert selectors.poll_state(seller, thread.pk, 0) is None


def test_moderators_poll_threads_they_take_no_part_in(people, moderator):
    thread = people["threads"][0]
    newest = thread.messages.order_by("-pk").values_list("pk", flat=True).first()
    assert selectors.poll_state(Actor.for_user(moderator), thread.pk, 0) is None  # no row
    assert poll_state(Actor.for_user(moderator), thread.pk, 0) is True
    assert poll_state(Actor.for_user(moderator), thread.pk, newest) is False
    assert poll_state(Actor.for_user(moderator), 10**9, 0) is None


@pytest.mark.parametrize("who", ACTORS)
def test_thread_people_read_at_once_match_the_lookups_they_replace(people, who):
    """The thread page reads a thread's participants once (access.people_of) and finds
    the actor's row and their blocks in Python: the same answers as the queries."""
    from wagtail_messenger.services import access, safety

    seller = people["seller"]
    buyer_thread, guest_thread = people["threads"][:2]
    for thread in (buyer_thread, guest_thread):  # the seller blocks the buyer and the guest
        other = thread.participants.exclude(user=seller.user).get()
        safety.block(seller, other.pk)
    actor = people[who]
    for thread in people["threads"]:
        found = access.people_of(actor, thread)
        assert found.me == access.get_participant(actor, thread)
        everyone = list(thread.participants.order_by("pk"))
        assert found.others == [p for p in everyone if found.me is None or p != found.me]
        expected = access.blocked_since(found.me) if found.me is not None else {}
        assert found.blocked == expected
    if who == "seller":
        assert len(access.people_of(actor, guest_thread).blocked) == 1, "the guest, by email"


@pytest.mark.parametrize("who", [*ACTORS, "moderator", "left", "nobody"])
def test_opening_a_thread_follows_the_visibility_rule(people, moderator, who):
    """The thread pages open a thread with access.open_thread (the thread by its key,
    then the actor's own row among its participants): the same yes or no as
    get_visible_thread's rule for everyone, including someone who deleted the thread
    and a moderator taking no part."""
    from wagtail_messenger.exceptions import NotAllowed
    from wagtail_messenger.services import access

    def rule(actor, thread_id):
        try:
            return access.get_visible_thread(actor, thread_id)
        except NotAllowed:
            return None

    def opened(actor, thread_id):
        try:
            thread, found = access.open_thread(actor, thread_id)
        except NotAllowed:
            return None
        assert found.me == access.get_participant(actor, thread)
        return thread

    if who == "left":
        actor = people["seller"]
        Participant.objects.filter(thread=people["threads"][0], user=actor.user).update(
            folder=Participant.Folder.DELETED
        )
    else:
        actor = {"moderator": Actor.for_user(moderator), "nobody": Actor()}.get(who) or people[who]
    ids = [t.pk for t in people["threads"]]
    for thread_id in [*ids, max(ids) + 1, "x", None]:
        assert opened(actor, thread_id) == rule(actor, thread_id)
    seen = [opened(actor, i) is not None for i in ids]
    expected = {
        "buyer": [True, False, True, False],
        "seller": [True, True, False, False],
        "team member": [False, False, True, True],
        "guest": [False, True, False, True],
        "stranger": [False] * 4,
        "moderator": [True] * 4,
        "left": [False, True, False, False],
        "nobody": [False] * 4,
    }
    assert seen == expected[who]


def key_of(row):
    """A row's place in inbox order, as the page cursors carry it."""
    return bool(row.peer_blocked), row.last_message_at, row.pk


def reference_rows(actor, folder, flagged=False, unread=False):
    """The actor's rows in ``folder`` in inbox order, worked out the plain way: every
    row read, filtered and sorted in Python (blocked threads last, then latest activity
    first, then the newest row)."""
    rows = Participant.objects.for_actor(actor).filter(folder=folder).select_related("thread")
    kept = [
        row
        for row in rows
        if (row.thread.last_message_id is not None or row.is_initiator)
        and (row.flagged or not flagged)
        and (row.unread_count > 0 or not unread)
    ]
    return sorted(kept, key=lambda r: (r.peer_blocked, -r.last_message_at.timestamp(), -r.pk))


@pytest.fixture
def crowded(people, start, seller, make_user):
    """The seller's inbox with ties in time and blocked rows on both sides."""
    from wagtail_messenger.services import safety

    for n in range(4):
        start(make_user(f"fan{n}"), seller, body=f"Message {n}")
    rows = Participant.objects.filter(user=seller).order_by("pk")
    tie = rows.first().last_message_at
    rows.filter(pk__in=[r.pk for r in rows[:3]]).update(last_message_at=tie)
    for thread in people["threads"][:1] + [rows[4].thread]:
        other = thread.participants.exclude(user=seller).first()
        safety.block(people["seller"], other.pk)
    Participant.objects.filter(pk=rows[5].pk).update(flagged=True)
    return people


@pytest.mark.parametrize("who", ACTORS)
@pytest.mark.parametrize(
    "view",
    [
        {"folder": "inbox"},
        {"folder": "inbox", "flagged": True},
        {"folder": "inbox", "unread": True},
        {"folder": "archive"},
    ],
)
def test_inbox_pages_follow_inbox_order_from_any_cursor(crowded, who, view):
    """selectors.inbox_page gives the rows in inbox order, from any cursor in both
    directions, across ties in time and the line between blocked and not."""
    actor = crowded[who]
    options = {k: v for k, v in view.items() if k != "folder"}
    if view["folder"] == "archive":
        for row in selectors.inbox_page(actor, "inbox", size=2).rows:
            participation.archive(actor, row.thread_id)
    expected = reference_rows(actor, view["folder"], **options)
    page = selectors.inbox_page(actor, view["folder"], size=100, **options)
    assert [row.pk for row in page.rows] == [row.pk for row in expected]
    assert page.has_more is False
    for i, row in enumerate(expected):
        after = selectors.inbox_page(actor, view["folder"], after=key_of(row), size=2, **options)
        assert [r.pk for r in after.rows] == [r.pk for r in expected[i + 1 : i + 3]]
        assert after.has_more == (i + 3 < len(expected))
        before = selectors.inbox_page(actor, view["folder"], before=key_of(row), size=2, **options)
        assert [r.pk for r in before.rows] == [r.pk for r in expected[max(0, i - 2) : i]]
        assert before.has_more == (i - 2 > 0)
    if who == "seller" and view == {"folder": "inbox"}:
        blocked = [key_of(row)[0] for row in expected]
        assert blocked == sorted(blocked) and True in blocked and False in blocked
        times = [key_of(row)[1] for row in expected]
        assert len(set(times)) < len(times), "the data has ties in time"


@pytest.mark.parametrize("who", ACTORS)
def test_inbox_page_rows_carry_what_the_rows_show(crowded, who):
    actor = crowded[who]
    page = selectors.inbox_page(actor, size=50)
    reference = reference_rows(actor, "inbox")
    assert [row.pk for row in page.rows] == [row.pk for row in reference]
    for row, ref in zip(page.rows, reference, strict=True):
        assert row.title == ref.thread.title
        assert row.listing_is_gone == ref.thread.listing_is_gone
        last = ref.thread.last_message
        assert (row.last_message and row.last_message.body) == (last and last.body)
        everyone = ref.thread.participants.order_by("pk")
        names = [(p.pk, str(p.display_name), p.initials, p.is_guest) for p in row.everyone]
        assert names == [(p.pk, str(p.display_name), p.initials, p.is_guest) for p in everyone]


def test_inbox_search_keeps_the_matching_rows_in_order(crowded):
    seller = crowded["seller"]
    for text in ("bike", "Gus", "Message 2", "nothing like this"):
        page = selectors.inbox_page(seller, query=text, size=50)
        matching = set(
            selectors.search_inbox(Participant.objects.for_actor(seller), seller, text).values_list(
                "pk", flat=True
            )
        )
        expected = [row.pk for row in reference_rows(seller, "inbox") if row.pk in matching]
        assert [row.pk for row in page.rows] == expected
    assert [r.title for r in selectors.inbox_page(seller, query="Message 2", size=50).rows]


@pytest.mark.parametrize("who", [*ACTORS, "moderator"])
def test_message_pages_follow_the_visibility_rule(people, site, moderator, who):
    """selectors.message_page (one query) shows each reader the
    messages access.visible_messages gives them: held ones to their sender only, none
    a blocked person sent after the block, everything to a moderator; with senders and
    attachments, and the same pages before any message."""
    from wagtail_messenger.models import Attachment, Message, MessengerSettings
    from wagtail_messenger.services import access, safety

    seller, buyer_thread, guest_thread = people["seller"], *people["threads"][:2]
    safety.block(seller, guest_thread.participants.get(kind="guest").pk)
    conversations.post_message(actor=people["guest"], thread=guest_thread, body="After block")
    MessengerSettings.objects.update_or_create(
        site=site, defaults={"blocked_words": "casino", "spam_threshold": 1}
    )
    held = conversations.post_message(
        actor=people["buyer"], thread=buyer_thread, body="Visit my casino"
    ).message
    assert held.state == Message.State.HELD
    Attachment.objects.create(
        message=buyer_thread.messages.earliest("pk"),
        file="messenger/x.pdf",
        name="offer.pdf",
        content_type="application/pdf",
        size=2048,
    )
    actor = people[who] if who != "moderator" else Actor.for_user(moderator)

    def shown(messages):
        return [
            (m.pk, m.body, m.state, m.sender.display_name, getattr(m.file, "name", None))
            for m in messages
        ]

    for thread in people["threads"]:
        expected = list(access.visible_messages(actor, thread).order_by("pk"))
        page = selectors.message_page(actor, thread, limit=50)
        for m in (*expected, *page.messages):  # a missing attachment is an AttributeError
            m.file = getattr(m, "attachment", None)
        assert shown(page.messages) == shown(expected)
        for i, message in enumerate(expected):
            older = selectors.message_page(actor, thread, before_id=message.pk, limit=2)
            assert [m.pk for m in older.messages] == [m.pk for m in expected[max(0, i - 2) : i]]
    if who == "seller":
        bodies = [m.body for m in selectors.message_page(actor, guest_thread).messages]
        assert "After block" not in bodies and "Yes" in bodies
    if who == "buyer":
        page = selectors.message_page(actor, buyer_thread)
        assert held.pk in [m.pk for m in page.messages]
        assert page.messages[0].attachment.name == "offer.pdf"


@pytest.mark.parametrize("who", ACTORS)
def test_a_thread_and_its_people_come_in_one_query(people, who, django_assert_num_queries):
    """access.open_thread: the thread page's first read, the same objects as the ORM's
    lookups, with every field of both."""
    from django.forms.models import model_to_dict

    from wagtail_messenger.exceptions import NotAllowed
    from wagtail_messenger.services import access

    actor = people[who]
    actor.team_ids, actor.is_moderator  # noqa: B018 (the actor's own lookups, made once)
    for thread in people["threads"]:
        with django_assert_num_queries(1):
            try:
                found, seen = access.open_thread(actor, thread.pk)
            except NotAllowed:
                continue
        expected = Thread.objects.get(pk=thread.pk)
        assert model_to_dict(found) == model_to_dict(expected)
        rows = list(thread.participants.order_by("pk"))
        everyone = sorted([*([seen.me] if seen.me else []), *seen.others], key=lambda p: p.pk)
        assert [model_to_dict(p) for p in everyone] == [model_to_dict(p) for p in rows]
        assert all(p.thread is found for p in everyone)


def test_contact_preference_is_the_saved_one(make_user):
    from django.forms.models import model_to_dict

    from wagtail_messenger.models import ContactPreference
    from wagtail_messenger.services import safety

    user = make_user("pat")
    assert safety.preferences_for(user).allow_contact is True  # unsaved defaults
    assert safety.preferences_for(user).pk is None
    safety.set_allow_contact(user, False)
    saved = ContactPreference.objects.get(user=user)
    assert model_to_dict(safety.preferences_for(user)) == model_to_dict(saved)
    assert safety.preferences_for(user).allow_contact is False


def test_site_wide_bans_match_the_account_or_the_address_without_case(make_user):
    from wagtail_messenger.models import Ban
    from wagtail_messenger.services.conversations import _is_banned

    def banned(user_id, email):
        return _is_banned(Participant(user_id=user_id, email=email))

    carol, dave = make_user("carol"), make_user("dave")
    Ban.objects.create(user=carol)
    Ban.objects.create(email="Gus@Example.net")
    assert banned(carol.pk, "carol@example.com")
    assert banned(None, "gus@example.NET")
    assert banned(dave.pk, "gus@example.net")  # an account using a banned address
    assert not banned(dave.pk, "dave@example.com")
    assert not banned(None, "")


def test_bans_are_read_from_the_cache_and_a_new_or_lifted_ban_counts_at_once(
    make_user, django_assert_num_queries
):
    from wagtail_messenger.models import Ban
    from wagtail_messenger.services import bans

    erin = make_user("erin")
    assert not bans.is_banned(erin.pk, "erin@example.com")  # reads and caches the list
    with django_assert_num_queries(0):
        assert not bans.is_banned(erin.pk, "erin@example.com")
    ban = Ban.objects.create(email="ERIN@example.com")
    assert bans.is_banned(None, "erin@example.com")
    ban.delete()
    assert not bans.is_banned(None, "erin@example.com")
