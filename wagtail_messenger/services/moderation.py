"""Moderation: the writer behind the admin's moderation panel.

Every function takes the acting ``user`` first, refuses anyone without the
``wagtail_messenger.moderate_thread`` permission, runs in one transaction and records a
Wagtail audit log entry (``wagtail_messenger.*`` actions, registered in
``wagtail_hooks.py``). Message-level actions are logged on the message's *thread*, with
the message id in the entry's data, so a thread's history page tells the whole story.

Held messages (spam, banned senders, contact details held for review) reach nobody until
a moderator releases them ("not spam"): :func:`release_message` delivers them through
:func:`wagtail_messenger.services.conversations.deliver`, which raises the recipients'
unread counters and sends the notification then.
"""

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from wagtail.log_actions import log

from ..actors import MODERATE_PERMISSION
from ..exceptions import NotAllowed
from ..models import Ban, Message, Participant, Report, Thread
from . import conversations, locks

State = Message.State

#: Audit log action names (labels and messages are registered in wagtail_hooks.py).
HIDE = "wagtail_messenger.hide"
UNHIDE = "wagtail_messenger.unhide"
SPAM = "wagtail_messenger.spam"
NOT_SPAM = "wagtail_messenger.not_spam"
CLOSE = "wagtail_messenger.close"
REOPEN = "wagtail_messenger.reopen"
BAN = "wagtail_messenger.ban"
UNBAN = "wagtail_messenger.unban"
RESUME_EMAIL = "wagtail_messenger.resume_email"
DISMISS = "wagtail_messenger.dismiss_reports"
DELETE = "wagtail.delete"


def is_moderator(user):
    return bool(user and user.is_active and user.has_perm(MODERATE_PERMISSION))


def require_moderator(user):
    if not is_moderator(user):
        raise NotAllowed(_("You need the moderation permission to do that."))


def _message(message_id):
    # The message's row only, where the database can say so (not on MariaDB: there its
    # thread's and sender's rows are locked too, see locks.locked).
    message = (
        locks.locked(Message.objects.select_related("thread", "sender"), of=("self",))
        .filter(pk=message_id)
        .first()
    )
    if message is None:
        raise NotAllowed(_("This message no longer exists."))
    return message


def _thread(thread_id):
    thread = Thread.objects.select_for_update().filter(pk=thread_id).first()
    if thread is None:
        raise NotAllowed(_("This conversation no longer exists."))
    return thread


def _moderated(message, user, state, reason=None):
    message.state = state
    message.moderated_at = timezone.now()
    message.moderated_by = user
    fields = ["state", "moderated_at", "moderated_by"]
    if reason is not None:
        message.moderation_reason = reason[:255]
        fields.append("moderation_reason")
    message.save(update_fields=fields)


def _close_reports(message_ids, user, status):
    return Report.objects.filter(message_id__in=message_ids, status=Report.Status.OPEN).update(
        status=status, resolved_at=timezone.now(), resolved_by=user
    )


def _log(thread, action, user, **data):
    log(thread, action, user=user, data=data)


# -- messages ----------------------------------------------------------------------------


def hide_message(user, message_id, reason=""):
    """Hide a delivered message. Participants see "hidden by moderators" and the reason
    in its place; its open reports are resolved."""
    require_moderator(user)
    reason = (reason or "").strip()
    with transaction.atomic():
        message = _message(message_id)
        if message.is_note:
            raise NotAllowed(_("Listing updates come from the site and cannot be hidden."))
        if message.state != State.VISIBLE:
            raise NotAllowed(_("Only a visible message can be hidden."))
        _moderated(message, user, State.HIDDEN, reason)
        _close_reports([message.pk], user, Report.Status.RESOLVED)
        _log(message.thread, HIDE, user, message=message.pk, reason=reason)
    return message


def unhide_message(user, message_id):
    require_moderator(user)
    with transaction.atomic():
        message = _message(message_id)
        if message.state != State.HIDDEN:
            raise NotAllowed(_("This message is not hidden."))
        _moderated(message, user, State.VISIBLE, "")
        _log(message.thread, UNHIDE, user, message=message.pk)
    return message


def release_message(user, message_id):
    """Not spam: a held message is delivered now, as if it had just been sent, and its
    recipients are notified (after commit)."""
    require_moderator(user)
    with transaction.atomic():
        message = _message(message_id)
        if message.state != State.HELD:
            raise NotAllowed(_("This message is not held."))
        _release(message, user)
        _log(message.thread, NOT_SPAM, user, message=message.pk)
    return message


def _release(message, user):
    # It reaches the recipients now: numbered and timed under the thread's lock like a
    # message just posted, so the inbox sorts it as new and the poll's cursor, which
    # follows the numbers, brings it to pages already open.
    locked = conversations.lock_thread(message.thread_id)
    conversations.number(message, locked)
    message.save(update_fields=["created_at", "seq"])
    _moderated(message, user, State.VISIBLE)
    conversations.deliver(message)


def reject_message(user, message_id):
    """Spam: a held message stays undelivered and leaves the review queue."""
    require_moderator(user)
    with transaction.atomic():
        message = _message(message_id)
        if message.state != State.HELD:
            raise NotAllowed(_("This message is not held."))
        _moderated(message, user, State.HELD)
        _close_reports([message.pk], user, Report.Status.RESOLVED)
        _log(message.thread, SPAM, user, message=message.pk)
    return message


def dismiss_reports(user, message_id):
    """The reports on a message were unfounded: it stays as it is."""
    require_moderator(user)
    with transaction.atomic():
        message = _message(message_id)
        count = _close_reports([message.pk], user, Report.Status.DISMISSED)
        _log(message.thread, DISMISS, user, message=message.pk, reports=count)
    return count


# -- threads -----------------------------------------------------------------------------


def mark_thread_spam(user, thread_id):
    """The thread is spam: nobody can write in it any more, its held messages stay
    undelivered (and leave the queue), its open reports are resolved."""
    require_moderator(user)
    with transaction.atomic():
        thread = _thread(thread_id)
        thread.status = Thread.Status.SPAM
        thread.save(update_fields=["status"])
        held = thread.messages.filter(state=State.HELD)
        held.filter(moderated_at__isnull=True).update(
            moderated_at=timezone.now(), moderated_by=user
        )
        _close_reports(thread.messages.values("pk"), user, Report.Status.RESOLVED)
        _log(thread, SPAM, user)
    return thread


def mark_thread_not_spam(user, thread_id):
    """The thread is legitimate: it opens again and every held message in it is
    delivered (oldest first) and notified."""
    require_moderator(user)
    with transaction.atomic():
        thread = _thread(thread_id)
        if thread.status == Thread.Status.SPAM:
            thread.status = Thread.Status.OPEN
            thread.save(update_fields=["status"])
        released = []
        for message in thread.messages.filter(state=State.HELD).select_related("sender"):
            message.thread = thread
            _release(message, user)
            released.append(message.pk)
        _log(thread, NOT_SPAM, user, released=released)
    return thread


def close_thread(user, thread_id):
    """Nobody can write in the thread any more; it stays readable."""
    return _set_status(user, thread_id, Thread.Status.CLOSED, CLOSE)


def reopen_thread(user, thread_id):
    return _set_status(user, thread_id, Thread.Status.OPEN, REOPEN)


def _set_status(user, thread_id, status, action):
    require_moderator(user)
    with transaction.atomic():
        thread = _thread(thread_id)
        if thread.status != status:
            thread.status = status
            thread.save(update_fields=["status"])
            _log(thread, action, user)
    return thread


def delete_threads(user, thread_ids):
    """Delete threads for everybody, with their messages and attachments' rows (the
    files go with the maintenance job's orphan sweep or the storage's lifecycle)."""
    require_moderator(user)
    with transaction.atomic():
        threads = list(Thread.objects.select_for_update().filter(pk__in=list(thread_ids)))
        for thread in threads:
            _log(thread, DELETE, user)
        Thread.objects.filter(pk__in=[t.pk for t in threads]).delete()
    return len(threads)


def bulk(user, action, thread_ids):
    """Apply ``action`` ("spam", "close", "delete") to many threads; returns how many."""
    if action == "delete":
        return delete_threads(user, thread_ids)
    single = {"spam": mark_thread_spam, "close": close_thread}[action]
    require_moderator(user)
    count = 0
    with transaction.atomic():
        for thread_id in thread_ids:
            single(user, thread_id)
            count += 1
    return count


# -- site-wide blocks --------------------------------------------------------------------


def ban_sender(user, participant_id, reason=""):
    """Block the person behind ``participant_id`` site-wide: from now on everything they
    send is held (and not delivered) until a moderator lifts the block."""
    require_moderator(user)
    participant = Participant.objects.select_related("thread").filter(pk=participant_id).first()
    if participant is None:
        raise NotAllowed(_("This participant no longer exists."))
    if participant.user_id is not None:
        target = Q(user_id=participant.user_id)
        fields = {"user_id": participant.user_id, "email": ""}
    elif participant.email and participant.kind == Participant.Kind.GUEST:
        target = Q(user__isnull=True, email__iexact=participant.email)
        fields = {"email": participant.email}
    else:
        raise NotAllowed(_("This participant cannot be blocked."))
    with transaction.atomic():
        ban = Ban.objects.filter(target).first()
        if ban is None:
            ban = Ban.objects.create(reason=(reason or "").strip()[:255], created_by=user, **fields)
            _log(
                participant.thread,
                BAN,
                user,
                ban=ban.pk,
                participant=participant.pk,
                who=str(ban),
                reason=ban.reason,
            )
    return ban


def unban(user, ban_id):
    require_moderator(user)
    with transaction.atomic():
        ban = Ban.objects.filter(pk=ban_id).first()
        if ban is None:
            return False
        log(ban, UNBAN, user=user, data={"who": str(ban)})
        ban.delete()
    return True


def resume_email(user, suppression_id):
    """Mail goes to a suppressed address again (the person fixed their mailbox): the
    suppression is deleted, audit-logged. Emails dropped meanwhile are not sent."""
    from ..models import SuppressedAddress

    require_moderator(user)
    with transaction.atomic():
        row = SuppressedAddress.objects.filter(pk=suppression_id).first()
        if row is None:
            return False
        log(row, RESUME_EMAIL, user=user, data={"who": row.email})
        row.delete()
    return True


# -- the queue ---------------------------------------------------------------------------


def waiting_messages():
    held = Message.objects.filter(state=State.HELD, moderated_at__isnull=True).values("pk")
    reported = Report.objects.filter(status=Report.Status.OPEN).values("message_id")
    return Message.objects.filter(Q(pk__in=held) | Q(pk__in=reported))


def waiting_count():
    return waiting_messages().count()
