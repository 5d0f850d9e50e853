"""Notification emails: who is owed one, what it says; the outbox sends each.

A message's notifications go in two steps, both run by the ``notify_recipients`` task:

1. **Claim** (one transaction, the thread's participant rows locked): apply the site's
   mode and everybody's switches, record each email owed as a
   :class:`~wagtail_messenger.models.Notification` row (unique per participant and
   message) and as an :class:`~wagtail_messenger.models.OutboxEmail` row
   (``notification:<message>:<participant>``), and move the participant's
   ``notified_at``. Running it twice claims nothing new.
2. **Send**: the outbox (``services/outbox.py``) leases each row, renders it from the
   ids it keeps (:func:`render_notification`), sends it and records the result. An SMTP
   failure is recorded on the row and raised at the end, so the task backend shows the
   task as failed; the message itself was saved long before and stays visible. The
   sweeper (:func:`send_pending`: the ``messenger_send_pending_notifications`` command,
   or the ``send_pending_notifications`` task) retries with backoff, and sends again
   what a killed worker left leased.

Moderation alerts go through the outbox too, once per moderator, event and message.
"""

import logging

from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.db.models import OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
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
    OutboxEmail,
    Participant,
)
from . import digests, guests, lifecycle, notifications, outbox, replies
from .outbox import DeliveryFailed, Outcome  # noqa: F401  (imported from here before)
from .settings import for_site

logger = logging.getLogger(__name__)

Mode = MessengerSettings.NotificationMode
Frequency = ContactPreference.Frequency
Kind = Participant.Kind


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
    pending = OutboxEmail.objects.filter(
        dedup_key__startswith=f"notification:{message_id}:", state=OutboxEmail.State.PENDING
    )
    return outbox.send_rows(pending.order_by("pk")).check()


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
    others = _with_choice(
        Participant.objects.filter(thread_id=message.thread_id)
        .exclude(pk=message.sender_id)
        .exclude(folder__in=[Participant.Folder.TRASH, Participant.Folder.DELETED])
        .only("kind", "muted", "last_read_seq", "notified_at", "notified_seq")
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
            _with_choice(
                Participant.objects.select_for_update()
                .filter(thread_id=message.thread_id)
                .exclude(pk=message.sender_id)
                .exclude(folder__in=[Participant.Folder.TRASH, Participant.Folder.DELETED])
                .order_by("pk")
            )
        )
        now = timezone.now()
        owed = {}
        for row in rows:
            if _wants_email(row, message, conf.notification_mode):
                addresses = _addresses(row, message)
                if addresses:
                    owed[row] = addresses
        # Owed once per participant and message, for ever (outbox rows may be deleted
        # once sent): only a new Notification gets an email.
        known = set(
            Notification.objects.filter(message=message, participant__in=owed).values_list(
                "participant_id", flat=True
            )
        )
        owed = {row: addresses for row, addresses in owed.items() if row.pk not in known}
        Notification.objects.bulk_create(
            [Notification(participant=row, message=message) for row in owed],
            ignore_conflicts=True,
        )
        outbox.add_all(
            [
                outbox.build(
                    OutboxEmail.Kind.NOTIFICATION,
                    f"notification:{message.pk}:{row.pk}",
                    recipient=", ".join(addresses),
                    participant=row.pk,
                    message=message.pk,
                )
                for row, addresses in owed.items()
            ]
        )
        Participant.objects.filter(pk__in=[row.pk for row in owed]).update(
            notified_at=now, notified_seq=message.seq or 0
        )
        return owed


def _with_choice(participants):
    """``participants`` with ``chosen``: the user's own choice of how often to be
    emailed (their preferences page), "" for no choice, a team or a guest."""
    choice = ContactPreference.objects.filter(user_id=OuterRef("user_id"))
    return participants.annotate(
        chosen=Coalesce(Subquery(choice.values("email_frequency")[:1]), Value(""))
    )


def pace(row, site_mode):
    """How often ``row`` is emailed about new messages: the person's own choice, else
    the site's mode; ``NEVER`` for a person who takes a daily summary instead
    (``services/digests.py``). A team's emails go at the site's pace (each member's
    "never" and "daily" take that member off them: :func:`_addresses`)."""
    chosen = getattr(row, "chosen", "") if row.kind == Kind.USER else ""
    if chosen in (Frequency.DAILY, Frequency.NEVER):
        return Mode.NEVER
    return chosen or site_mode


def _wants_email(row, message, mode):
    """The participant's own state, before looking at people and addresses."""
    mode = pace(row, mode)
    if mode == Mode.NEVER or row.muted or row.kind == Kind.INVITEE:
        # Invitees have no account yet: the contact-form flow sends them an invitation.
        return False
    if message.seq is not None and row.last_read_seq >= message.seq:
        # They have already seen it (a slow worker). Sequence numbers, not times: a
        # message numbered after the read mark was not on the page that set it.
        return False
    if mode == Mode.ROUND and row.notified_at is not None:
        # One email per round: nothing more until they have seen the message they were
        # last emailed about (a page showing it, not merely a later visit).
        return row.last_read_seq >= row.notified_seq
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
        ContactPreference.objects.filter(
            user_id__in=ids, email_frequency__in=[Frequency.DAILY, Frequency.NEVER]
        ).values_list("user_id", flat=True)
    )
    blocking = set(
        Block.objects.filter(blocker_id__in=ids)
        .against(message.sender)
        .values_list("blocker_id", flat=True)
    )
    return [u.email for u in users if u.pk not in opted_out | blocking]


# -- sending ------------------------------------------------------------------------------


def send_pending(max_attempts=None):
    """The sweeper (the ``messenger_send_pending_notifications`` command): send every
    email of the outbox that is due, whatever its kind: refused earlier and due again,
    or left leased by a worker that was killed; first it queues the daily summaries
    that are due (``digests.send_digests``: once a day per person, after
    ``DIGEST_HOUR``). Returns how many were sent; raises :class:`DeliveryFailed` if the
    mail server still refuses some."""
    digests.send_digests()
    return outbox.send_due(max_attempts)


def render_notification(row):
    """The notification email of the outbox row ``row``, or ``None`` when it is not owed
    any more (the message was hidden or removed, the recipient muted or left)."""
    participant = (
        Participant.objects.select_related("user", "group")
        .filter(pk=row.params.get("participant"))
        .first()
    )
    message = (
        Message.objects.select_related("thread__site", "thread__listing", "sender")
        .filter(pk=row.params.get("message"))
        .first()
    )
    if participant is None or message is None:
        return None
    addresses = _addresses(participant, message)
    if message.state != Message.State.VISIBLE or participant.muted or not addresses:
        return None
    return build_message_email(participant, message, addresses, row=row)


# -- the email ----------------------------------------------------------------------------


def preview(body):
    return Truncator(" ".join(body.split())).chars(get_setting("PREVIEW_LENGTH"))


def build_message_email(participant, message, addresses, row=None):
    """The email telling ``participant`` about ``message`` (not sent); a guest's link is
    the one of the outbox ``row`` (the same on every attempt)."""
    thread = message.thread
    site = thread.site
    conf = for_site(site)
    if participant.kind == Kind.GUEST:
        # Guests have no login: the button is a fresh private link to this thread.
        thread_url = guests.issue_link(participant.email, thread=thread, site=site, row=row)
    else:
        thread_url = absolute_url(thread.get_absolute_url(), site)
    mute_url = absolute_url(
        reverse("wagtail_messenger:mute", args=[notifications.mute_token(participant)]), site
    )
    reply_to = replies.address_for(participant, row)
    context = {
        "recipient_name": clean_header(participant.name),
        "is_team": participant.kind == Kind.GROUP,
        "sender_name": clean_header(message.sender.display_name),
        "thread": thread,
        "thread_title": clean_header(thread.title),
        "listing_title": clean_header(thread.listing_title) if thread.listing_title else "",
        "listing_url": _listing_url(thread),
        # A listing note says what changed, whatever the preview setting: it is the site
        # speaking, not a person's words.
        "note": lifecycle.note_text(message) if message.is_note else "",
        "preview": preview(message.body) if conf.email_previews and not message.is_note else "",
        "listing_image_url": _listing_image_url(thread),
        "has_attachment": hasattr(message, "attachment"),
        "thread_url": thread_url,
        "mute_url": mute_url,
        "reply_by_email": bool(reply_to),
        "site_name": clean_header(site.site_name or site.hostname) if site else "",
    }
    headers = {
        # RFC 8058 one-click unsubscribe: mail clients POST "List-Unsubscribe=One-Click"
        # to this URL, which mutes this thread only.
        "List-Unsubscribe": f"<{mute_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "Auto-Submitted": "auto-generated",
    }
    if reply_to:
        headers["Reply-To"] = reply_to
    if participant.kind == Kind.GROUP:
        # A team's members get one email, each without seeing the others' addresses.
        email = render_mail("new_message", context, to=[], headers=headers)
        email.bcc = list(addresses)
        return email
    return render_mail("new_message", context, to=addresses, headers=headers)


def _listing_image_url(thread):
    """The absolute address of a small rendition of the listing's snapshot image, or ""
    (no image, or its file is missing)."""
    if not thread.listing_image_id:
        return ""
    try:
        url = thread.listing_image.get_rendition("fill-160x160").url
    except (OSError, ObjectDoesNotExist):  # Wagtail's SourceImageIOError is an OSError
        return ""
    return url if url.startswith(("http://", "https://")) else absolute_url(url, thread.site)


def _listing_url(thread):
    """The listing's address for an email, or "" when the page is gone or not live (no
    email links to a dead page: the email names the listing from its snapshot)."""
    listing = thread.listing if thread.listing_id else None
    if listing is None or not listing.live or not thread.listing_url:
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
    ``"reported"``: one outbox email per moderator, event and message (a retried task,
    or a second report of the message, alerts nobody twice). Returns how many were
    sent; raises :class:`DeliveryFailed` if the mail server refused some (the sweeper
    retries them)."""
    if event not in {"held", "reported"} or not Message.objects.filter(pk=message_id).exists():
        return 0
    prefix = f"moderator_alert:{event}:{message_id}:"
    outbox.add_all(
        [
            outbox.build(
                OutboxEmail.Kind.MODERATOR_ALERT,
                f"{prefix}{user.pk}",
                recipient=user.email,
                event=event,
                message=message_id,
                user=user.pk,
            )
            for user in moderators_to_alert()
        ]
    )
    pending = OutboxEmail.objects.filter(
        dedup_key__startswith=prefix, state=OutboxEmail.State.PENDING
    )
    return outbox.send_rows(pending.order_by("pk")).check()


def render_moderator_alert(row):
    """The alert of the outbox row ``row``, or ``None`` if the message is gone or the
    moderator no longer wants alerts (or is no moderator any more)."""
    message = (
        Message.objects.select_related("thread__site", "sender")
        .filter(pk=row.params.get("message"))
        .first()
    )
    user = (
        get_user_model()
        .objects.filter(
            pk=row.params.get("user"),
            is_active=True,
            pk__in=ContactPreference.objects.filter(moderation_alerts=True).values("user_id"),
        )
        .exclude(email="")
        .first()
    )
    if message is None or user is None or not user.has_perm(MODERATE_PERMISSION):
        return None
    event = row.params.get("event")
    thread = message.thread
    site = thread.site
    context = {
        "event": event,
        "recipient": user,
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
    return render_mail("moderator_alert", context, to=user.email)
