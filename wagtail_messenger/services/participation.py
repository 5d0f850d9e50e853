"""A participant's own state: read, flag, mute, folders, removing and reporting."""

from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from ..exceptions import NotAllowed
from ..models import Block, Message, Participant, Report, Thread
from . import access, locks, notifications
from .settings import for_site

Folder = Participant.Folder


def _mine(actor, thread_ids):
    """The actor's live participant rows in ``thread_ids`` (one id or many): the bulk
    actions and the single ones share this, so a foreign id is simply not touched."""
    if isinstance(thread_ids, int | str):
        thread_ids = [thread_ids]
    return Participant.objects.for_actor(actor).live().filter(thread_id__in=list(thread_ids))


def _update(actor, thread_ids, **changes):
    with transaction.atomic():
        changed = _mine(actor, thread_ids).update(**changes)
    if not changed and isinstance(thread_ids, int | str):
        raise NotAllowed()
    return changed


def unread_after(participant, seq, blocked=None):
    """How many messages of ``participant``'s thread are unread with the read mark at
    ``seq``: delivered after it, visible, from somebody else, not from a person they
    block (since the block; ``blocked`` as :func:`access.blocked_since`). What a recount
    says; the stored ``unread_count`` must agree with it."""
    if blocked is None:
        blocked = access.blocked_since(participant)
    seen = Message.objects.seen_by(participant, blocked).exclude(sender_id=participant.pk)
    return seen.filter(seq__gt=seq, state=Message.State.VISIBLE, kind=Message.Kind.MESSAGE).count()


def mark_read(actor, thread_ids, seen_seq=None):
    """Move the actor's read mark forward to ``seen_seq``, the last delivery sequence
    number the reader was shown (the thread page posts it), or to the thread's latest
    message when ``None`` (the inbox's "mark read"). A mark never moves back, and
    covers nothing delivered after what was shown: the unread counter is recomputed,
    under the thread's lock, from the messages after the new mark. Returns how many
    rows changed; a single thread that is not the actor's raises :class:`NotAllowed`."""
    single = isinstance(thread_ids, int | str)
    changed = 0
    with transaction.atomic():
        rows = list(_mine(actor, thread_ids).values_list("thread_id", flat=True))
        if not rows and single:
            raise NotAllowed()
        # The threads first, in one order (as every writer of counters locks them).
        threads = Thread.objects.filter(pk__in=rows).order_by("pk")
        latest = dict(locks.locked(threads).values_list("pk", "last_seq"))
        mine = _mine(actor, list(latest)).only(
            "pk", "thread_id", "user_id", "last_read_seq", "notified_at", "notified_seq"
        )
        for row in mine:
            last = latest[row.thread_id]
            mark = last if seen_seq is None else min(max(seen_seq, 0), last)
            mark = max(mark, row.last_read_seq)
            unread = 0 if mark >= last else unread_after(row, mark)
            changes = {"unread_count": unread, "last_read_seq": mark}
            if mark > row.last_read_seq:
                changes["last_read_at"] = timezone.now()
            changed += Participant.objects.filter(pk=row.pk).update(**changes)
            if (
                unread
                and row.notified_at is not None
                and row.last_read_seq < row.notified_seq <= mark
            ):
                _owe_again(row, mark)
    return changed


def _owe_again(row, mark):
    """This read mark ended the reader's round ("no flood": one email until they have
    seen the message they were emailed about) while messages after it are unread:
    those were passed over while the round was on, so the newest is owed an email now
    (the mailer applies every rule again; a message is emailed once at most)."""
    newest = (
        Message.objects.filter(
            thread_id=row.thread_id,
            state=Message.State.VISIBLE,
            kind=Message.Kind.MESSAGE,
            seq__gt=mark,
        )
        .exclude(sender_id=row.pk)
        .order_by("-seq")
        .values_list("pk", flat=True)
        .first()
    )
    if newest is not None:
        notifications.owed_again(newest)


def mark_unread(actor, thread_ids):
    """Shows the thread as having one unread message (like "mark as unread" in mail)."""
    with transaction.atomic():
        rows = _mine(actor, thread_ids)
        changed = rows.filter(unread_count=0).update(unread_count=1)
        if not changed and not rows.exists() and isinstance(thread_ids, int | str):
            raise NotAllowed()
    return changed


def set_flagged(actor, thread_ids, flagged=True):
    return _update(actor, thread_ids, flagged=flagged)


def set_muted(actor, thread_ids, muted=True):
    return _update(actor, thread_ids, muted=muted)


def _move(actor, thread_ids, narrow, **changes):
    """Update the actor's rows that ``narrow`` keeps; a single id that is not the
    actor's raises :class:`NotAllowed` (a row already in place is no error)."""
    with transaction.atomic():
        rows = _mine(actor, thread_ids)
        changed = narrow(rows).update(**changes)
        if not changed and isinstance(thread_ids, int | str) and not rows.exists():
            raise NotAllowed()
    return changed


def archive(actor, thread_ids):
    return _move(
        actor, thread_ids, lambda rows: rows.filter(folder=Folder.INBOX), folder=Folder.ARCHIVE
    )


def unarchive(actor, thread_ids):
    return _move(
        actor, thread_ids, lambda rows: rows.filter(folder=Folder.ARCHIVE), folder=Folder.INBOX
    )


def trash(actor, thread_ids):
    """Moves the threads to the actor's trash; the other party keeps them."""
    return _move(
        actor,
        thread_ids,
        lambda rows: rows.exclude(folder=Folder.TRASH),
        folder=Folder.TRASH,
        trashed_at=timezone.now(),
    )


def restore(actor, thread_ids):
    return _move(
        actor,
        thread_ids,
        lambda rows: rows.filter(folder=Folder.TRASH),
        folder=Folder.INBOX,
        trashed_at=None,
    )


def remove_message(actor, message_id):
    """The author removes their own message when the site allows it."""
    with transaction.atomic():
        thread_id = Message.objects.filter(pk=message_id).values_list("thread_id", flat=True)
        thread_id = thread_id.first()
        if thread_id is None:
            raise NotAllowed()
        locks.locked(Thread.objects.filter(pk=thread_id)).values_list("pk").first()
        message = Message.objects.select_related("thread", "sender").filter(pk=message_id)
        message = message.first()
        if message is None:
            raise NotAllowed()
        participant = access.get_participant(actor, message.thread)
        if participant is None or participant.pk != message.sender_id or message.is_note:
            raise NotAllowed(_("You can only remove your own messages."))
        if not for_site(message.thread.site).users_may_remove_messages:
            raise NotAllowed(_("Messages cannot be removed on this site."))
        if message.state == Message.State.REMOVED:
            return message
        was_delivered = message.state == Message.State.VISIBLE
        message.state = Message.State.REMOVED
        message.save(update_fields=["state"])
        if was_delivered:
            # Unread counters of those who had not read it yet go down again (people who
            # block the author never counted it).
            blocking = Block.objects.filter(blocker_id=OuterRef("user_id")).against(message.sender)
            Participant.objects.filter(
                ~Exists(blocking),
                thread_id=message.thread_id,
                unread_count__gt=0,
                last_read_seq__lt=message.seq,
            ).exclude(pk=participant.pk).update(unread_count=F("unread_count") - 1)
    return message


def report_message(actor, message_id, reason=""):
    """A participant reports a message they received to the moderators."""
    with transaction.atomic():
        message = Message.objects.select_related("thread").filter(pk=message_id).first()
        if message is None:
            raise NotAllowed()
        participant = access.get_participant(actor, message.thread)
        if participant is None:
            raise NotAllowed()
        if participant.pk == message.sender_id:
            raise NotAllowed(_("You cannot report your own message."))
        if message.is_note:
            raise NotAllowed(_("Listing updates come from the site and cannot be reported."))
        report, created = Report.objects.get_or_create(
            message=message,
            reporter=participant,
            status=Report.Status.OPEN,
            defaults={"reason": (reason or "").strip()[:2000]},
        )
        if created:
            notifications.message_reported(report)  # enqueued when it commits
    return report
