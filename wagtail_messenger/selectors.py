"""Read-side queries shared by pages, JSON endpoints, emails and exports.

Each returns a lazily evaluated queryset (or a small object) whose query count does not
depend on how many threads or messages exist: they read stored counters and index
ranges, never counting or sorting whole tables.
"""

from dataclasses import dataclass
from typing import NamedTuple

from django.db.models import Exists, OuterRef, Prefetch, Q

from . import hot
from .conf import get_setting
from .models import Block, Message, Participant
from .models.threads import PersonDisplay, thread_title
from .services import access

Folder = Participant.Folder


def inbox(actor, folder=Folder.INBOX, *, flagged=False, unread=False):
    """The actor's participant rows in ``folder``, newest activity first, with the
    thread, its last message and every participant ready for display (the caller
    slices a page; the participants come in one extra query for that page)."""
    rows = Participant.objects.for_actor(actor).filter(folder=folder)
    # A thread whose only message is held as spam has no last message yet: its
    # recipients do not see it until moderators release it (its starter does).
    rows = rows.filter(Q(thread__last_message__isnull=False) | Q(is_initiator=True))
    if flagged:
        rows = rows.filter(flagged=True)
    if unread:
        rows = rows.filter(unread_count__gt=0)
    # Only the columns a row shows are read: building the rows (not the database) was
    # most of the page's query cost, and converting datetimes it never showed a good
    # part of that. The listing page itself is not joined: rows show the stored title.
    return (
        rows.select_related("thread", "thread__last_message")
        .only(*ROW_FIELDS)
        .prefetch_related(everyone_prefetch())
        .order_by("peer_blocked", "-last_message_at", "-pk")
    )


#: What a row of the inbox (and of the header drop-down) reads; anything else a custom
#: template asks of ``row``, ``row.thread`` or ``row.thread.last_message`` costs one
#: query per row, so add it here (a test counts the queries of the page).
ROW_FIELDS = (
    *("thread", "kind", "user", "group", "name", "email", "folder", "flagged", "muted"),
    *("unread_count", "peer_blocked", "last_message_at", "is_initiator"),
    *("thread__site", "thread__listing", "thread__listing_title", "thread__subject"),
    *("thread__status", "thread__last_message_at", "thread__message_count"),
    *("thread__last_message__sender", "thread__last_message__body"),
    *("thread__last_message__state", "thread__last_message__created_at"),
)

#: What the names and avatars of the other participants read.
EVERYONE_FIELDS = ("thread", "kind", "user", "group", "name", "email")


def everyone_prefetch():
    """Every participant of the rows' threads, as ``row.thread.everyone``. A caller that
    reads one row more than it shows (to know there is a next page) can drop it with
    ``prefetch_related(None)`` and run it on the shown rows with
    ``prefetch_related_objects(rows, everyone_prefetch())``."""
    return Prefetch(
        "thread__participants",
        queryset=Participant.objects.only(*EVERYONE_FIELDS).order_by("pk"),
        to_attr="everyone",
    )


# -- inbox pages ---------------------------------------------------------------------------
#
# The inbox page and the header drop-down read their rows with two plain queries
# (hot.inbox_rows, hot.people_of_threads) into the light objects below rather than
# through ``inbox()``: building that queryset's SQL and its three model objects per row
# cost about 2.5 ms a page on SQLite, four times the database's own work. ``inbox()``
# stays for other code (and as the reference the tests compare the rows with).


class LastMessage(NamedTuple):
    """The newest message of a row's thread, as far as the row shows it."""

    id: int
    sender_id: int
    body: str
    state: str
    created_at: object


class Person(PersonDisplay):
    """Another participant beside an inbox row: ``display_name``, ``initials``,
    ``is_guest`` (from :class:`PersonDisplay`, as on ``Participant``) and the columns
    of :data:`hot.PERSON_COLUMNS`."""

    __slots__ = ("pk", "thread_id", "kind", "user_id", "group_id", "name", "email")

    def __init__(self, pk, thread_id, kind, user_id, group_id, name, email):
        self.pk, self.thread_id, self.kind = pk, thread_id, kind
        self.user_id, self.group_id, self.name, self.email = user_id, group_id, name, email

    def __repr__(self):
        return f"<Person {self.pk}: {self.name}>"


class InboxRow:
    """One row of an inbox page: the person's participant row (``pk``, ``thread_id``,
    ``flagged``, ``muted``, ``unread_count``, ``peer_blocked``, ``last_message_at``),
    its thread's ``title`` and ``listing_is_gone``, ``last_message`` (a
    :class:`LastMessage` or ``None``) and ``everyone`` (every participant of the
    thread, :class:`Person`, the row's own included). Pages set what they print on it
    (``views.inbox.RowDisplay``)."""

    def __init__(self, values):
        (
            self.pk, self.thread_id, self.flagged, self.muted, self.unread_count,
            self.peer_blocked, self.last_message_at, listing_id, listing_title, subject,
            message_id, *message,
        ) = values  # fmt: skip
        self.title = thread_title(self.thread_id, listing_id, listing_title, subject)
        self.listing_is_gone = listing_id is None and bool(listing_title)
        self.last_message = LastMessage(message_id, *message) if message_id else None
        self.everyone = []

    @property
    def id(self):
        return self.pk

    def __repr__(self):
        return f"<InboxRow {self.pk}: thread {self.thread_id}>"


#: The values of :data:`hot.INBOX_COLUMNS` as paths from a participant row, for
#: ``inbox().values_list(*INBOX_ROW_PATHS)``.
INBOX_ROW_PATHS = (
    *("pk", "thread_id", "flagged", "muted", "unread_count", "peer_blocked"),
    *("last_message_at", "thread__listing_id", "thread__listing_title", "thread__subject"),
    *("thread__last_message_id", "thread__last_message__sender_id"),
    *("thread__last_message__body", "thread__last_message__state"),
    "thread__last_message__created_at",
)


@dataclass
class InboxPage:
    rows: list
    has_more: bool


def inbox_page(
    actor,
    folder=Folder.INBOX,
    *,
    flagged=False,
    unread=False,
    query="",
    after=None,
    before=None,
    size,
):
    """One page of the actor's rows in ``folder`` (:class:`InboxRow`, inbox order),
    after or before a cursor (``(peer_blocked, last_message_at, pk)`` of a row), with
    every participant of their threads. ``has_more``: another page lies beyond, in the
    direction read. Two queries, whatever the size of the inbox; a search (``query``)
    narrows the first one with :func:`search_inbox`'s conditions."""
    if actor.is_anonymous:
        return InboxPage(rows=[], has_more=False)
    within = None
    if query:
        matching = search_inbox(Participant.objects.for_actor(actor), actor, query)
        within = matching.values("pk").query.sql_with_params()
    found = hot.inbox_rows(
        actor, folder, flagged=flagged, unread=unread, after=after, before=before,
        within=within, limit=size + 1,
    )  # fmt: skip
    has_more = len(found) > size
    found = found[1:] if (has_more and before is not None) else found[:size]
    rows = [InboxRow(values) for values in found]
    by_thread = {row.thread_id: row for row in rows}
    for values in hot.people_of_threads(list(by_thread)):
        by_thread[values[1]].everyone.append(Person(*values))
    return InboxPage(rows=rows, has_more=has_more)


def search_inbox(rows, actor, text):
    """Narrow participant ``rows`` (from :func:`inbox`) to threads matching ``text`` in
    another participant's name or email, the listing title or subject, or the text of a
    message the actor can see (delivered, or their own; nothing sent by people they
    block since the block). Still one query, whatever the size of the inbox."""
    text = (text or "").strip()[:100]
    if not text:
        return rows
    people = Participant.objects.filter(thread_id=OuterRef("thread_id")).exclude(pk=OuterRef("pk"))
    people = people.filter(Q(name__icontains=text) | Q(email__icontains=text))
    said = Message.objects.filter(thread_id=OuterRef("thread_id"), body__icontains=text).filter(
        Q(state=Message.State.VISIBLE) | Q(sender_id=OuterRef("pk"))
    )
    if actor.user is not None:
        blocks = Block.objects.filter(
            blocker_id=actor.user.pk, created_at__lte=OuterRef("created_at")
        )
        said = said.exclude(
            Exists(blocks.filter(blocked_user_id=OuterRef("sender__user_id")))
        ).exclude(
            Q(sender__kind=Participant.Kind.GUEST)
            & Exists(blocks.filter(blocked_email=OuterRef("sender__email")))
        )
    return rows.filter(
        Q(thread__listing_title__icontains=text)
        | Q(thread__subject__icontains=text)
        | Exists(people)
        | Exists(said)
    )


#: The header total is exact below this; from here on it says "at least" (the badge
#: shows "99+" from 100).
UNREAD_TOTAL_LIMIT = 100


def unread_total(actor):
    """The header total: unread messages over the actor's inbox and archive, from the
    stored counters of at most ``UNREAD_TOTAL_LIMIT`` rows (each counts at least one).

    Exact below ``UNREAD_TOTAL_LIMIT``; ``UNREAD_TOTAL_LIMIT`` itself means "that many or
    more", which the badge shows as "99+". Reading a bounded number of rows keeps the
    header of every page the same cost with 100 conversations unread or 10,000
    (``Participant.objects.unread_total`` gives the exact figure, at a cost that grows
    with the unread rows)."""
    if actor.is_anonymous:
        return 0
    counts = hot.unread_counters(actor, UNREAD_TOTAL_LIMIT)
    return UNREAD_TOTAL_LIMIT if len(counts) == UNREAD_TOTAL_LIMIT else sum(counts)


@dataclass
class MessagePage:
    messages: list
    has_older: bool
    oldest_id: int | None
    newest_id: int | None


def message_page(actor, thread, *, people=None, before_id=None, limit=None):
    """The latest ``limit`` messages of the thread (or those before ``before_id``), in
    reading order, as ``actor`` sees them, with senders and attachments: one query.
    ``people``: the thread's :class:`access.People` for ``actor`` when the caller has
    them (the senders come from there; otherwise they are read)."""
    limit = limit or get_setting("MESSAGES_PER_PAGE")
    if people is None:
        people = access.people_of(actor, thread)
    me = people.me
    if me is None and not actor.is_moderator:
        return MessagePage(messages=[], has_older=False, oldest_id=None, newest_id=None)
    everyone = people.others if me is None else [me, *people.others]
    rows = hot.message_page(
        thread.pk,
        viewer_id=me.pk if me is not None else None,
        blocked=people.blocked,  # none when the reader takes no part
        before_id=before_id,
        limit=limit + 1,
        senders={p.pk: p for p in everyone},
    )
    has_older = len(rows) > limit
    rows = rows[:limit][::-1]
    return MessagePage(
        messages=rows,
        has_older=has_older,
        oldest_id=rows[0].pk if rows else None,
        newest_id=rows[-1].pk if rows else None,
    )


def messages_after(actor, thread, after_id, *, participant=None, blocked=None, limit=200):
    """New messages since the poll cursor ``after_id`` (the JSON endpoint). ``blocked``:
    see :func:`access.visible_messages`."""
    qs = access.visible_messages(actor, thread, participant=participant, blocked=blocked)
    qs = qs.filter(pk__gt=after_id)
    return list(qs.select_related("sender", "attachment").order_by("pk")[:limit])


def has_messages_after(thread_id, after_id):
    """The cheap "anything new?" check of the poll: one indexed lookup."""
    return Message.objects.filter(thread_id=thread_id, pk__gt=after_id).exists()
