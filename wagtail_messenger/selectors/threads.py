"""The thread page's reads: a page of messages as the reader sees them, the messages
after the poll's cursor, and the poll's cheap "anything new?"."""

from dataclasses import dataclass

from django.db.models import Exists

from ..conf import get_setting
from ..models import Message, Participant
from ..services import access

#: What a page of messages never shows (left unread: the spam details are the largest).
UNSHOWN_FIELDS = (
    *("data", "moderated_at", "moderated_by", "spam_score", "spam_reasons"),
    # contains_contact_details is shown: the warning on a message (includes/message.html).
    "idempotency_key",
)


@dataclass
class MessagePage:
    messages: list
    has_older: bool
    oldest_id: int | None
    newest_id: int | None
    #: The highest delivery sequence number shown: the poll's first cursor.
    newest_seq: int = 0


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
    senders = {p.pk: p for p in (people.others if me is None else [me, *people.others])}
    # A moderator taking no part sees everything; a participant what reached them and
    # their own held messages, not what people they block sent since the block.
    messages = Message.objects.filter(thread_id=thread.pk)
    if me is not None:
        messages = Message.objects.seen_by(me, people.blocked)
    if before_id is not None:
        messages = messages.filter(pk__lt=before_id)
    rows = list(
        messages.select_related("attachment", "author")
        .defer(*UNSHOWN_FIELDS)
        .order_by("-pk")[: limit + 1]
    )
    sender = Message._meta.get_field("sender")
    for message in rows:
        if message.sender_id in senders:  # always, unless a row was added meanwhile
            sender.set_cached_value(message, senders[message.sender_id])
    has_older = len(rows) > limit
    rows = rows[:limit][::-1]
    return MessagePage(
        messages=rows,
        has_older=has_older,
        oldest_id=rows[0].pk if rows else None,
        newest_id=rows[-1].pk if rows else None,
        newest_seq=max((m.seq for m in rows if m.seq is not None), default=0),
    )


def messages_after(actor, thread, after_seq, *, participant=None, blocked=None, limit=200):
    """The poll: ``(messages, cursor)``, the messages delivered after the cursor
    ``after_seq`` (a delivery sequence number, ``Message.seq``) that ``actor`` sees, in
    delivery order, and the cursor to ask with next time. One query: a thread's numbers
    are given in commit order under its lock, so any read sees every number up to the
    highest it sees, and the next cursor is the highest number read (messages from
    people the reader blocks are read, to move past them, and left out). ``blocked``:
    see :func:`access.visible_messages`."""
    if participant is None and not actor.is_moderator:
        participant = access.get_participant(actor, thread)
        if participant is None:
            return [], after_seq
    if participant is not None and blocked is None:
        blocked = access.blocked_since(participant)
    qs = Message.objects.filter(thread_id=thread.pk, seq__gt=after_seq)
    rows = list(qs.select_related("sender", "attachment", "author").order_by("seq")[:limit])
    cursor = rows[-1].seq if rows else after_seq
    if participant is not None:
        rows = [
            m for m in rows if m.sender_id not in blocked or m.created_at < blocked[m.sender_id]
        ]
    return rows, cursor


def poll_state(actor, thread_id, after_seq):
    """For the poll: ``None`` when ``actor`` takes no part in the thread (or left it),
    else whether a message was delivered after the cursor ``after_seq``. One indexed
    query. A user's teams come from the cached team list (``Actor.team_ids``): reading
    them in a subquery cost more to build than the cache read, even from Redis
    (measured)."""
    newer = Message.objects.filter(thread_id=thread_id, seq__gt=after_seq)
    found = (
        Participant.objects.filter(actor.participant_q(), thread_id=thread_id)
        .exclude(folder=Participant.Folder.DELETED)
        .values_list(Exists(newer))[:1]
    )
    for (is_newer,) in found:
        return is_newer
    return None
