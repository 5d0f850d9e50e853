"""Notification emails: who is owed one, what it says, and sending each exactly once.

A message's notifications go in two steps, both run by the ``notify_recipients`` task:

1. **Claim** (one transaction, the thread's participant rows locked): apply the site's
   mode and everybody's switches, record each email owed as a
   :class:`~wagtail_messenger.models.Notification` row (unique per participant and
   message) and move the participant's ``notified_at``. Running it twice claims nothing
   new.
2. **Send**: each unsent row is locked, rendered, sent and marked sent in its own
   transaction. An SMTP failure is recorded on the row (``attempts``, ``last_error``) and
   raised at the end, so the task backend shows the task as failed; the message itself was
   saved long before and stays visible. :func:`send_pending` (the
   ``messenger_send_pending_notifications`` command, or the ``send_pending_notifications``
   task) retries unsent rows until ``WAGTAILMESSENGER_NOTIFICATION_MAX_ATTEMPTS``.

A row is marked sent in the transaction that sent it, so a retried task, a second worker
or the retry command never sends it twice (at worst, a worker killed between the SMTP
answer and the commit sends once more: at-least-once, never lost).
"""

import logging
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator

from ..actors import MODERATE_PERMISSION
from ..conf import get_setting
from ..emails import absolute_url, clean_header, render_mail
from ..models import (
    Block,
    ContactPreference,
    Message,
    MessengerSettings,
    Notification,
    Participant,
)
from . import guests, locks, notifications
from .settings import for_site

logger = logging.getLogger(__name__)

Mode = MessengerSettings.NotificationMode
Kind = Participant.Kind


class DeliveryFailed(Exception):
    """Some emails could not be handed to the mail server; they are kept for a retry."""


@dataclass
class Outcome:
    sent: int = 0
    failed: list = field(default_factory=list)

    def check(self):
        if self.failed:
            raise DeliveryFailed(
                f"{len(self.failed)} notification email(s) not sent, kept for retry: "
                + "; ".join(self.failed)
            )
        return self.sent


# -- who is owed an email -----------------------------------------------------------------


def send_message_notifications(message_id):
    """Claim and send the emails owed for ``message_id``; returns how many were sent.

    Raises :class:`DeliveryFailed` when the mail server refused some (they are retried
    by :func:`send_pending`). Most messages are owed no email (one per round: the
    recipient was told about an earlier message and has not read since), and with the
    immediate task backend this runs inside the request that posted: two plain reads
    (:func:`_anyone_may_be_owed`) settle that case before any lock or transaction."""
    if not _anyone_may_be_owed(message_id):
        return 0
    _claim(message_id)
    pending = Notification.objects.filter(message_id=message_id, sent_at__isnull=True)
    return _send_rows(pending.values_list("pk", flat=True)).check()


def _anyone_may_be_owed(message_id):
    """Whether the claim could find somebody owed an email for the message, or a claimed
    email still unsent (a task run again after a failure): the message, then the other
    participants' own switches, without locks. ``False`` is final; ``True`` leaves the
    answer to :func:`_claim`, which reads them again under lock."""
    message = (
        Message.objects.select_related("thread__site")
        .only(
            *("state", "thread_id", "sender_id", "seq", "created_at", "moderated_at"),
            "thread__site",
        )
        .filter(pk=message_id)
        .first()
    )
    if message is None or message.state != Message.State.VISIBLE:
        return False
    mode = for_site(message.thread.site).notification_mode
    if mode == Mode.NEVER:
        return False
    delivered = _delivered_at(message)
    others = (
        Participant.objects.filter(thread_id=message.thread_id)
        .exclude(pk=message.sender_id)
        .exclude(folder__in=[Participant.Folder.TRASH, Participant.Folder.DELETED])
        .only("kind", "muted", "last_read_at", "last_read_seq", "notified_at")
    )
    return any(
        _wants_email(row, message, mode)
        or (row.notified_at is not None and row.notified_at >= delivered)
        for row in others
    )


def _claim(message_id):
    with transaction.atomic():
        message = (
            Message.objects.select_related("thread__site", "sender").filter(pk=message_id).first()
        )
        if message is None or message.state != Message.State.VISIBLE:
            return []
        conf = for_site(message.thread.site)
        if conf.notification_mode == Mode.NEVER:
            return []
        rows = list(
            Participant.objects.select_for_update()
            .filter(thread_id=message.thread_id)
            .exclude(pk=message.sender_id)
            .exclude(folder__in=[Participant.Folder.TRASH, Participant.Folder.DELETED])
            .order_by("pk")
        )
        now = timezone.now()
        owed = [
            row
            for row in rows
            if _wants_email(row, message, conf.notification_mode) and _addresses(row, message)
        ]
        Notification.objects.bulk_create(
            [Notification(participant=row, message=message) for row in owed],
            ignore_conflicts=True,
        )
        Participant.objects.filter(pk__in=[row.pk for row in owed]).update(notified_at=now)
        return owed


def _wants_email(row, message, mode):
    """The participant's own state, before looking at people and addresses."""
    if row.muted or row.kind == Kind.INVITEE:
        # Invitees have no account yet: the contact-form flow sends them an invitation.
        return False
    if message.seq is not None and row.last_read_seq >= message.seq:
        # They have already seen it (a slow worker). Sequence numbers, not times: a
        # message numbered after the read mark was not on the page that set it.
        return False
    if mode == Mode.ROUND and row.notified_at is not None:
        # One email per round: nothing more until they have read the thread since.
        return row.last_read_at is not None and row.last_read_at >= row.notified_at
    return True


def _delivered_at(message):
    """When the message reached its recipients: a held message only on its release
    (which also sets ``created_at`` then, under the thread's lock)."""
    if message.moderated_at is not None:
        return max(message.created_at, message.moderated_at)
    return message.created_at


def _addresses(row, message):
    """The addresses an email to ``row`` goes to (a team's members), possibly none."""
    if row.kind == Kind.GUEST:
        return [row.email] if row.email else []
    if row.kind == Kind.USER:
        users = [row.user] if row.user_id else []  # a deleted account has no user
    elif row.kind == Kind.GROUP and row.group_id:
        users = list(row.group.user_set.all())
    else:
        users = []
    users = [u for u in users if u.is_active and u.email]
    if not users:
        return []
    ids = [u.pk for u in users]
    opted_out = set(
        ContactPreference.objects.filter(user_id__in=ids, email_notifications=False).values_list(
            "user_id", flat=True
        )
    )
    blocking = set(
        Block.objects.filter(blocker_id__in=ids)
        .against(message.sender)
        .values_list("blocker_id", flat=True)
    )
    return [u.email for u in users if u.pk not in opted_out | blocking]


# -- sending ------------------------------------------------------------------------------


def send_pending(max_attempts=None):
    """Retry unsent notifications that failed fewer than ``max_attempts`` times (the
    ``messenger_send_pending_notifications`` command). Returns how many were sent;
    raises :class:`DeliveryFailed` if the mail server still refuses some."""
    if max_attempts is None:
        max_attempts = get_setting("NOTIFICATION_MAX_ATTEMPTS")
    ids = Notification.objects.filter(sent_at__isnull=True, attempts__lt=max_attempts).order_by(
        "pk"
    )
    return _send_rows(ids.values_list("pk", flat=True)).check()


def _send_rows(ids):
    outcome = Outcome()
    for pk in list(ids):
        _send_one(pk, outcome)
    return outcome


def _send_one(pk, outcome):
    with transaction.atomic():
        # Locked: a second worker skips the row instead of sending it again (where the
        # database cannot skip, it waits, then finds the row sent).
        row = locks.locked(
            Notification.objects.filter(pk=pk, sent_at__isnull=True), skip_locked=True
        ).first()
        if row is None:
            return
        participant = Participant.objects.select_related("user", "group").get(pk=row.participant_id)
        message = Message.objects.select_related("thread__site", "thread__listing", "sender").get(
            pk=row.message_id
        )
        addresses = _addresses(participant, message)
        if message.state != Message.State.VISIBLE or participant.muted or not addresses:
            row.delete()  # hidden, removed or muted since: nothing is owed any more
            return
        row.attempts += 1
        try:
            # A savepoint: a failed attempt leaves no private link behind.
            with transaction.atomic():
                build_message_email(participant, message, addresses).send()
        except OSError as error:  # smtplib.SMTPException and socket errors
            row.last_error = f"{type(error).__name__}: {error}"[:2000]
            row.save(update_fields=["attempts", "last_error"])
            logger.warning("Notification %s not sent (attempt %s): %s", pk, row.attempts, error)
            outcome.failed.append(f"#{pk} {row.last_error}")
            return
        row.sent_at = timezone.now()
        row.last_error = ""
        row.save(update_fields=["attempts", "sent_at", "last_error"])
        outcome.sent += 1


# -- the email ----------------------------------------------------------------------------


def preview(body):
    return Truncator(" ".join(body.split())).chars(get_setting("PREVIEW_LENGTH"))


def build_message_email(participant, message, addresses):
    """The email telling ``participant`` about ``message`` (not sent)."""
    thread = message.thread
    site = thread.site
    conf = for_site(site)
    if participant.kind == Kind.GUEST:
        # Guests have no login: the button is a fresh private link to this thread.
        thread_url = guests.issue_link(participant.email, thread=thread, site=site)
    else:
        thread_url = absolute_url(thread.get_absolute_url(), site)
    mute_url = absolute_url(
        reverse("wagtail_messenger:mute", args=[notifications.mute_token(participant)]), site
    )
    context = {
        "recipient_name": clean_header(participant.name),
        "is_team": participant.kind == Kind.GROUP,
        "sender_name": clean_header(message.sender.display_name),
        "thread": thread,
        "thread_title": clean_header(thread.title),
        "listing_title": clean_header(thread.listing_title) if thread.listing_title else "",
        "listing_url": _listing_url(thread),
        "preview": preview(message.body) if conf.email_previews else "",
        "has_attachment": hasattr(message, "attachment"),
        "thread_url": thread_url,
        "mute_url": mute_url,
        "site_name": clean_header(site.site_name or site.hostname) if site else "",
    }
    headers = {
        # RFC 8058 one-click unsubscribe: mail clients POST "List-Unsubscribe=One-Click"
        # to this URL, which mutes this thread only.
        "List-Unsubscribe": f"<{mute_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "Auto-Submitted": "auto-generated",
    }
    if participant.kind == Kind.GROUP:
        # A team's members get one email, each without seeing the others' addresses.
        email = render_mail("new_message", context, to=[], headers=headers)
        email.bcc = list(addresses)
        return email
    return render_mail("new_message", context, to=addresses, headers=headers)


def _listing_url(thread):
    if not thread.listing_url:
        return ""
    if thread.listing_url.startswith(("http://", "https://")):
        return thread.listing_url
    return absolute_url(thread.listing_url, thread.site)


# -- moderators ---------------------------------------------------------------------------


def moderators_to_alert():
    """Active moderators with an email address who asked for moderation alerts."""
    wanting = ContactPreference.objects.filter(moderation_alerts=True).values("user_id")
    users = get_user_model().objects.filter(pk__in=wanting, is_active=True).exclude(email="")
    return [u for u in users.order_by("pk") if u.has_perm(MODERATE_PERMISSION)]


def send_moderator_alert(event, message_id):
    """Tell moderators who opted in that a message was ``"held"`` as spam or
    ``"reported"``. One email per moderator; returns how many were sent.

    Not deduplicated like participants' emails: a retried task may alert twice, which
    errs on the side of moderators knowing."""
    message = Message.objects.select_related("thread__site", "sender").filter(pk=message_id).first()
    if message is None or event not in {"held", "reported"}:
        return 0
    moderators = moderators_to_alert()
    if not moderators:
        return 0
    thread = message.thread
    site = thread.site
    context = {
        "event": event,
        "sender_name": clean_header(message.sender.display_name),
        "thread_title": clean_header(thread.title),
        "preview": preview(message.body) if for_site(site).email_previews else "",
        "spam_reasons": [clean_header(r) for r in message.spam_reasons or []],
        "report_reasons": [
            clean_header(r)
            for r in message.reports.exclude(reason="").values_list("reason", flat=True)[:5]
        ],
        "thread_url": absolute_url(thread.get_absolute_url(), site),
        "site_name": clean_header(site.site_name or site.hostname) if site else "",
    }
    sent = 0
    for user in moderators:
        render_mail("moderator_alert", {**context, "recipient": user}, to=user.email).send()
        sent += 1
    return sent
