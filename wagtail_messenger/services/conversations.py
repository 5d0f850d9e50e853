"""Starting threads and posting messages."""

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Case, Exists, F, OuterRef, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import hooks
from ..conf import get_setting
from ..exceptions import InvalidMessage, MessengerDisabled, NotAllowed, RecipientUnavailable
from ..models import Attachment, Block, ContactPreference, Message, Participant, Thread
from . import access, bans, lifecycle, locks, notifications, spam
from .settings import for_site


@dataclass
class Posted:
    thread: Thread
    message: Message
    #: False when an idempotency key matched an earlier submit (nothing new was written).
    created: bool = True


def clean_body(body):
    body = (body or "").replace("\r\n", "\n").strip()
    if not body:
        raise InvalidMessage(_("Write a message before sending."))
    limit = get_setting("MAX_BODY_LENGTH")
    if len(body) > limit:
        raise InvalidMessage(
            _("Your message is %(length)d characters long; the limit is %(limit)d.")
            % {"length": len(body), "limit": limit}
        )
    return body


def allows_contact(user):
    return not ContactPreference.objects.filter(user=user, allow_contact=False).exists()


def start_thread(
    *,
    sender,
    recipient,
    body,
    site=None,
    listing=None,
    subject="",
    origin=None,
    idempotency_key=None,
    upload=None,
    data=None,
    conf=None,
    sender_proven=None,
):
    """Start a conversation from ``sender`` to ``recipient`` (both
    :class:`~wagtail_messenger.services.parties.Party`), or add to the open one they
    already have about the same listing. Returns :class:`Posted`.

    Only a proven sender joins an existing thread: a user, or a guest whose email a
    private link proved (the caller says so with ``sender_proven=True``). A guest who
    merely typed an address starts a new thread whose guest row is unconfirmed
    (``email_verified=False``): the recipient sees "email not confirmed", and the thread
    is none of that address's conversations until the link emailed to it is opened.

    ``idempotency_key`` is the form's key; a second submit with it returns the first
    one's message (``created=False``). No key ("" or ``None``) is stored as NULL."""
    if sender_proven is None:
        sender_proven = sender.user is not None
    conf = conf or for_site(site)
    if not conf.enabled:
        raise MessengerDisabled()
    if sender.kind == Participant.Kind.GUEST and not conf.guests_may_write:
        raise NotAllowed(_("Please log in to send a message."))
    if sender.same_person(recipient):
        raise InvalidMessage(_("You cannot send a message to yourself."))
    body = clean_body(body)
    if recipient.user is not None and not allows_contact(recipient.user):
        raise RecipientUnavailable()
    if (
        sender.user is not None
        and recipient.user is not None
        and Block.objects.filter(blocker=sender.user, blocked_user=recipient.user).exists()
    ):
        raise RecipientUnavailable(_("You blocked this person. Unblock them to write to them."))
    previous = _previous_submit(idempotency_key, sender.participant_filter())
    if previous is not None:
        return Posted(previous.thread, previous, created=False)
    if origin is None:
        origin = Thread.Origin.LISTING if listing is not None else Thread.Origin.QUESTION

    try:
        with transaction.atomic():
            joinable = listing is not None and sender_proven
            thread = None
            if joinable:
                thread = open_thread_between(sender, recipient, listing, lock=True)
            new_thread = thread is None
            if new_thread:
                thread, author = _create_thread(
                    site, listing, subject, origin, sender, recipient, sender_proven
                )
            else:
                author = thread.participants.live().get(
                    email_verified=True, **sender.participant_filter()
                )
            message = _save_message(
                thread,
                author,
                body,
                conf,
                idempotency_key=idempotency_key,
                upload=upload,
                data=data,
                locked=thread,  # created here, or locked by open_thread_between
            )
            if new_thread:
                transaction.on_commit(
                    lambda: hooks.run_all(hooks.AFTER_THREAD_STARTED, thread, message)
                )
    except IntegrityError:
        previous = _previous_submit(idempotency_key, sender.participant_filter())
        if previous is None:
            raise
        return Posted(previous.thread, previous, created=False)
    return Posted(thread, message)


def post_message(
    *, actor, thread, body, upload=None, idempotency_key=None, conf=None, participant=None
):
    """Reply in ``thread`` as ``actor``. Returns :class:`Posted`.

    ``participant`` is the actor's own row in the thread when the caller has already
    looked it up (the thread page has), else it is looked up here. A second submit of
    the same form (same ``idempotency_key``) returns the first one's message: the unique
    index on the key refuses the second row, so the usual, first submit pays no lookup.
    No key ("" or ``None``) is stored as NULL, which the index lets repeat.
    """
    conf = conf or for_site(thread.site)
    if not conf.enabled:
        raise MessengerDisabled()
    if participant is None:
        participant = access.require_participant(actor, thread)
    if thread.status == Thread.Status.ENDED:
        raise NotAllowed(_("This conversation is closed: the listing has ended."))
    if not thread.is_open:
        raise NotAllowed(_("This conversation was closed by the moderators."))
    body = clean_body(body)
    try:
        with transaction.atomic():
            message = _save_message(
                thread,
                participant,
                body,
                conf,
                idempotency_key=idempotency_key,
                upload=upload,
                # A team's message records which member wrote it.
                author=actor.user if participant.group_id is not None else None,
            )
    except IntegrityError:
        previous = _previous_submit(idempotency_key, {"id": participant.pk})
        if previous is not None:
            return Posted(thread, previous, created=False)
        if not Thread.objects.filter(pk=thread.pk).exists():
            # Deleted while the reply was being written (maintenance purged it).
            raise NotAllowed(_("This conversation no longer exists.")) from None
        raise
    return Posted(thread, message)


def lock_thread(thread_id, *, writer=None):
    """The thread's row, locked until the transaction ends (``SELECT … FOR UPDATE``), or
    ``None`` when it is gone (or ``writer``, a participant row, has left it).

    Every write that delivers a message or moves a read mark or counter takes this lock
    first: messages are numbered under it (``Message.seq``), so in a thread the numbers
    follow the commit order, and counters are never updated by two writers at once."""
    rows = Thread.objects.filter(pk=thread_id)
    if writer is not None:
        live = Participant.objects.live().filter(pk=writer.pk, thread_id=OuterRef("pk"))
        rows = rows.filter(Exists(live))
    return locks.locked(rows.only("pk", "last_seq")).first()


def number(message, locked):
    """Give ``message`` the thread's next sequence number and its delivery time, both
    taken under the thread's lock (``locked``, from :func:`lock_thread`): a message
    numbered later also commits later, and its time follows every earlier read mark."""
    message.seq = locked.last_seq + 1
    message.created_at = timezone.now()
    locked.last_seq = message.seq


def deliver(message):
    """Make a saved message reach its recipients: counters, inbox order, notifications.

    Called by :func:`post_message` for ordinary messages and by moderation when a held
    message is released. Must run inside the writing transaction, with the thread's row
    locked and the message numbered (:func:`lock_thread`, :func:`number`).
    """
    if message.kind == Message.Kind.NOTE:
        _deliver_note(message)
        return
    sender, now = message.sender, message.created_at
    Thread.objects.filter(pk=message.thread_id).update(
        last_message=message,
        last_message_at=now,
        message_count=F("message_count") + 1,
        last_seq=message.seq,
    )
    # One UPDATE for every row the message reaches. People who block the sender are
    # left exactly as they were: no unread count, no move out of the archive or the
    # trash, no new place at the top of their inbox. The others come back from the
    # archive and from the trash (a reply saves a trashed thread), move to the top and
    # count one more unread; writing in a thread means having read it up to one's own
    # message, so the sender's read mark moves there and their counter goes to zero.
    is_sender = Q(pk=sender.pk)
    blocking = Block.objects.filter(blocker_id=OuterRef("user_id")).against(sender)
    away = Q(folder__in=[Participant.Folder.ARCHIVE, Participant.Folder.TRASH])
    Participant.objects.filter(
        is_sender | ~Exists(blocking),
        ~Q(folder=Participant.Folder.DELETED),
        thread_id=message.thread_id,
    ).update(
        # Before ``folder``: MySQL and MariaDB evaluate SET from left to right, with the
        # values already assigned.
        trashed_at=Case(
            When(folder=Participant.Folder.TRASH, then=Value(None)),
            default=F("trashed_at"),
            output_field=Participant._meta.get_field("trashed_at"),
        ),
        folder=Case(When(away, then=Value(Participant.Folder.INBOX)), default=F("folder")),
        last_message_at=now,
        unread_count=Case(When(is_sender, then=Value(0)), default=F("unread_count") + 1),
        last_read_at=Case(When(is_sender, then=Value(now)), default=F("last_read_at")),
        last_read_seq=Case(
            When(is_sender, then=Value(message.seq)),
            default=F("last_read_seq"),
            output_field=Participant._meta.get_field("last_read_seq"),
        ),
    )
    thread = message.thread  # keep the caller's instance in step with the row
    thread.last_message, thread.last_message_at = message, message.created_at
    thread.message_count += 1
    thread.last_seq = message.seq
    notifications.message_delivered(message)  # enqueued when the transaction commits
    transaction.on_commit(lambda: hooks.run_all(hooks.AFTER_MESSAGE_POSTED, message))


def _deliver_note(note):
    """A listing note (``services.lifecycle``) takes its place in the conversation and
    is emailed in the normal round, and changes nothing else: no unread count, no move
    out of the archive or the trash, no new place in the inbox, no read mark."""
    Thread.objects.filter(pk=note.thread_id).update(last_seq=note.seq)
    note.thread.last_seq = note.seq
    notifications.message_delivered(note)


# -- internals ---------------------------------------------------------------------------


def _previous_submit(key, sender_filter):
    """The message an earlier submit with the same idempotency key created, if the same
    sender made it; a key reused by somebody else is refused."""
    if not key:
        return None
    previous = Message.objects.select_related("thread", "sender").filter(idempotency_key=key)
    previous = previous.first()
    if previous is None:
        return None
    mine = Participant.objects.filter(pk=previous.sender_id, **sender_filter).exists()
    if not mine:
        raise InvalidMessage(_("This form was already used. Reload the page and try again."))
    return previous


def open_thread_between(sender, recipient, listing, *, lock=False):
    """The open thread about ``listing`` where both parties take part with a confirmed
    address (the latest), or ``None``: the one a proven sender's new message joins
    (``lock``: under a row lock, as :func:`start_thread` does), and the one the compose
    page opens instead of a blank form."""

    def has(party):
        rows = Participant.objects.live().filter(email_verified=True)
        return Exists(rows.filter(thread=OuterRef("pk"), **party.participant_filter()))

    threads = Thread.objects.select_for_update() if lock else Thread.objects.all()
    return (
        threads.filter(listing=listing, status=Thread.Status.OPEN)
        .filter(has(sender), has(recipient))
        .order_by("-last_message_at")
        .first()
    )


def _create_thread(site, listing, subject, origin, sender, recipient, sender_proven=True):
    now = timezone.now()
    thread = Thread.objects.create(
        site=site,
        listing=listing,
        listing_title=(listing.title if listing else "")[:255],
        listing_url=(listing.get_url() or "") if listing else "",
        listing_summary=lifecycle.listing_summary(listing) if listing else "",
        # What the conversation knows from the start (a reserved listing): only a change
        # from here gets a note (services/lifecycle.py).
        listing_state=lifecycle.initial_state(listing),
        listing_image=lifecycle.snapshot_image(listing) if listing else None,
        subject=subject[:255],
        origin=origin,
        last_message_at=now,
    )
    recipient_blocks_sender = (
        recipient.user is not None
        and Block.objects.filter(blocker=recipient.user).against(sender).exists()
    )
    rows = []
    for party, initiator in ((sender, True), (recipient, False)):
        row = Participant.objects.create(
            peer_blocked=not initiator and recipient_blocks_sender,
            thread=thread,
            kind=party.kind,
            user=party.user,
            group=party.group,
            name=party.name or party.email,
            email=party.email,
            is_initiator=initiator,
            email_verified=sender_proven or not initiator or party.kind != Participant.Kind.GUEST,
            last_message_at=now,
        )
        rows.append(row)
    return thread, rows[0]


def _is_banned(participant):
    return bans.is_banned(participant.user_id, participant.email)


def _save_message(
    thread,
    sender,
    body,
    conf,
    *,
    idempotency_key=None,
    upload=None,
    data=None,
    locked=None,
    author=None,
):
    """Save and deliver (or hold) the message. ``locked``: the thread's row when the
    caller already holds its lock (a thread just created or joined); else it is locked
    here, and a thread deleted (or left by the sender) meanwhile refuses the message."""
    verdict = spam.assess(sender=sender, thread=thread, body=body, conf=conf)
    state = Message.State.HELD if verdict.hold else Message.State.VISIBLE
    reasons = list(verdict.reasons)
    if _is_banned(sender):
        state = Message.State.HELD
        reasons.append(_("sender blocked site-wide"))
    if locked is None:
        locked = lock_thread(thread.pk, writer=sender)
        if locked is None:
            raise NotAllowed(_("This conversation no longer exists."))
    message = Message(thread=thread, created_at=timezone.now())
    if state == Message.State.VISIBLE:
        number(message, locked)
    message = Message.objects.create(
        seq=message.seq,
        created_at=message.created_at,
        thread=thread,
        sender=sender,
        author=author,
        body=body,
        data=data or {},
        state=state,
        spam_score=verdict.score,
        spam_reasons=reasons,
        contains_contact_details=verdict.contains_contact_details,
        idempotency_key=idempotency_key or None,  # no key ("" from a form) is NULL
    )
    message.sender = sender
    if upload is not None:
        Attachment.objects.create(message=message, **upload.attachment_fields())
    if state == Message.State.VISIBLE:
        deliver(message)
    else:
        Participant.objects.filter(pk=sender.pk).update(last_read_at=message.created_at)
        notifications.message_held(message)  # enqueued when the transaction commits
    return message
