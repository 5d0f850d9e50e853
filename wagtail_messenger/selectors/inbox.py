"""The inbox's reads: a page of the actor's conversations, the search, the header total.

Each is one ORM query whose cost does not depend on how many threads exist: they read
stored counters and index ranges (the participant indexes ``wm_part_user_inbox`` and
its team and guest twins, ``wm_part_user_unread``), never counting or sorting whole
tables. Rows come as ``values_list()`` tuples into the light objects below rather than
as three model objects per row: building those was most of an inbox page's cost.
"""

from dataclasses import dataclass
from typing import NamedTuple

from django.db.models import Exists, OuterRef, Q

from ..models import Block, Message, Participant
from ..models.threads import PersonDisplay, thread_title

Folder = Participant.Folder


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
    of :data:`PERSON_VALUES`."""

    __slots__ = (
        *("pk", "thread_id", "kind", "user_id", "group_id", "name", "email"),
        "email_verified",
    )

    def __init__(self, pk, thread_id, kind, user_id, group_id, name, email, email_verified):
        self.pk, self.thread_id, self.kind = pk, thread_id, kind
        self.user_id, self.group_id, self.name, self.email = user_id, group_id, name, email
        self.email_verified = email_verified

    def __repr__(self):
        return f"<Person {self.pk}: {self.name}>"


class InboxRow:
    """One row of an inbox page: the person's participant row (``pk``, ``thread_id``,
    ``flagged``, ``muted``, ``unread_count``, ``peer_blocked``, ``last_message_at``),
    its thread's ``title``, ``listing_summary`` and ``listing_is_gone``, ``last_message`` (a
    :class:`LastMessage` or ``None``) and ``everyone`` (every participant of the
    thread, :class:`Person`, the row's own included). Pages set what they print on it
    (``views.inbox.RowDisplay``)."""

    def __init__(self, values):
        (
            self.pk, self.thread_id, self.flagged, self.muted, self.unread_count,
            self.peer_blocked, self.last_message_at, listing_id, listing_title, subject,
            self.listing_summary, message_id, *message,
        ) = values  # fmt: skip
        self.title = thread_title(self.thread_id, listing_id, listing_title, subject)
        self.listing_is_gone = listing_id is None and bool(listing_title)
        self.last_message = LastMessage(message_id, *message) if message_id else None
        self.everyone = []

    @property
    def id(self):
        return self.pk

    @property
    def message_reached(self):
        """Whether ``last_message`` reached this person: theirs, or no later than the
        last message their row counts. A message from someone they block does not
        move their row (``services.conversations.deliver``), so it is newer than the
        row's time and is previewed nowhere: not in the inbox, not in the header
        widget."""
        message = self.last_message
        return message is not None and (
            message.sender_id == self.pk or message.created_at <= self.last_message_at
        )

    def __repr__(self):
        return f"<InboxRow {self.pk}: thread {self.thread_id}>"


#: What :class:`Person` reads of each participant beside a row.
PERSON_VALUES = (
    *("id", "thread_id", "kind", "user_id", "group_id", "name", "email"),
    "email_verified",
)

#: What an inbox row reads, as paths from the person's participant row: its own
#: columns, its thread's, and the thread's last message's (``None`` when it has none).
INBOX_ROW_PATHS = (
    *("pk", "thread_id", "flagged", "muted", "unread_count", "peer_blocked"),
    *("last_message_at", "thread__listing_id", "thread__listing_title", "thread__subject"),
    "thread__listing_summary",
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
    rows = Participant.objects.for_actor(actor).filter(folder=folder)
    # A thread whose only message is held as spam has no last message yet: its
    # recipients do not see it until moderators release it (its starter does).
    rows = rows.filter(Q(thread__last_message__isnull=False) | Q(is_initiator=True))
    if flagged:
        rows = rows.filter(flagged=True)
    if unread:
        rows = rows.filter(unread_count__gt=0)
    rows = search_inbox(rows, actor, query)
    key = after if after is not None else before
    if key is not None:
        rows = rows.filter(_beyond(key, forwards=after is not None))
    order = ("peer_blocked", "-last_message_at", "-pk")
    if before is not None:  # read backwards from the cursor, then turned round
        order = ("-peer_blocked", "last_message_at", "pk")
    found = list(rows.order_by(*order).values_list(*INBOX_ROW_PATHS)[: size + 1])
    has_more = len(found) > size
    found = found[:size]
    if before is not None:
        found.reverse()
    page = [InboxRow(values) for values in found]
    by_thread = {row.thread_id: row for row in page}
    people = Participant.objects.filter(thread_id__in=list(by_thread)).order_by("pk")
    for values in people.values_list(*PERSON_VALUES) if by_thread else ():
        by_thread[values[1]].everyone.append(Person(*values))
    return InboxPage(rows=page, has_more=has_more)


def _beyond(key, *, forwards):
    """The rows past the cursor ``key`` (``(peer_blocked, last_message_at, pk)``) in
    inbox order (blocked threads last, then latest activity first), or before it when
    not ``forwards``: a keyset condition the participant index answers as a range."""
    blocked, when, pk = key
    past = "lt" if forwards else "gt"
    same_side = Q(peer_blocked=blocked) & (
        Q(**{f"last_message_at__{past}": when}) | Q(last_message_at=when, **{f"pk__{past}": pk})
    )
    # Blocked rows come after all the others: the whole other side lies past an
    # unblocked key read forwards, and past a blocked key read backwards.
    if forwards != blocked:
        return same_side | Q(peer_blocked=not blocked)
    return same_side


def search_inbox(rows, actor, text):
    """Narrow participant ``rows`` (the actor's own) to threads matching ``text`` in
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
    # The rows with something unread, latest first: the partial index
    # ``wm_part_user_unread`` holds a user's in that order, so the scan stops early.
    rows = Participant.objects.for_actor(actor).filter(
        unread_count__gt=0, folder__in=[Folder.INBOX, Folder.ARCHIVE]
    )
    counts = list(
        rows.order_by("-last_message_at").values_list("unread_count", flat=True)[
            :UNREAD_TOTAL_LIMIT
        ]
    )
    return UNREAD_TOTAL_LIMIT if len(counts) == UNREAD_TOTAL_LIMIT else sum(counts)
