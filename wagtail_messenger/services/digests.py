"""Daily summaries: one email a day listing the conversations with unread messages, for
the people who chose "A daily summary" on their preferences page instead of an email per
message (``mailer.pace`` takes them off those).

:func:`send_digests` is run by the outbox's sweeper (``mailer.send_pending``: the
``messenger_send_pending_notifications`` command, every minute) and by the maintenance
job of the same name. Once today's ``DIGEST_HOUR`` has come (the site's ``TIME_ZONE``),
it takes everyone who chose the summary and whose last one was due before that hour,
each under a lock of their preference row:

- conversations (their own and their teams') with unread messages that arrived since
  their last summary: an outbox row ``digest:<user>:<date>`` is added and
  ``last_digest_at`` moved to now, in one transaction, and the row is sent once that
  commits (``send_email`` task) or by the next sweep;
- nothing new: only ``last_digest_at`` moves (what arrives later today goes in
  tomorrow's), so each person costs a few queries once a day, not every sweep.

The outbox sends and retries the row like every email: one summary per person and day,
whatever the number of sweeps, workers or failures. It is rendered when sent
(:func:`render_digest`) from what is still unread then; read meanwhile, it is dropped.
"""

from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from wagtail.models import Site

from ..actors import Actor
from ..conf import get_setting
from ..emails import absolute_url, clean_header, render_mail
from ..models import ContactPreference, Message, MessengerSettings, OutboxEmail, Participant
from . import locks, outbox
from .cleanup import JobResult, id_batches
from .settings import for_site

DAILY = ContactPreference.Frequency.DAILY
Folder = Participant.Folder


def due_since(now):
    """Today's ``DIGEST_HOUR`` in the current time zone if it has come, else ``None``:
    people whose last summary was due before it are due again."""
    local = timezone.localtime(now)
    start = local.replace(hour=get_setting("DIGEST_HOUR"), minute=0, second=0, microsecond=0)
    return start if local >= start else None


def _due(start):
    """Preference rows of active users with an address who take the summary and whose
    last one was due before ``start``."""
    return (
        ContactPreference.objects.filter(email_frequency=DAILY, user__is_active=True)
        .exclude(user__email="")
        .filter(Q(last_digest_at__isnull=True) | Q(last_digest_at__lt=start))
        .order_by("pk")
    )


def _silent_sites():
    """``Q`` over participant rows of threads on sites set to send no notifications
    ("Never"): none of those go in a summary either. Threads without a site follow the
    default site."""
    silent = Q(pk__in=[])
    for site in Site.objects.all():
        if for_site(site).notification_mode == MessengerSettings.NotificationMode.NEVER:
            silent |= Q(thread__site_id=site.pk)
            if site.is_default_site:
                silent |= Q(thread__site__isnull=True)
    return silent


def news(user, since, silent=None):
    """The participant rows (the user's own and their teams') of conversations with
    unread messages that arrived after ``since``: not muted, in the inbox or archive,
    on a site that sends notifications (``silent``: :func:`_silent_sites`, read when
    not given); newest first."""
    return (
        Participant.objects.for_actor(Actor.for_user(user))
        .filter(
            unread_count__gt=0,
            muted=False,
            folder__in=[Folder.INBOX, Folder.ARCHIVE],
            last_message_at__gt=since,
        )
        .exclude(_silent_sites() if silent is None else silent)
        .order_by("-last_message_at", "-pk")
    )


def send_digests(*, site=None, dry_run=False, now=None, batch_size=None, **_options):
    """Queue today's summary for everybody due (see the module); returns a
    :class:`JobResult` whose ``emails_queued`` counts them. Summaries belong to people,
    not sites: with ``site`` it does nothing. ``dry_run`` counts who would get one."""
    result = JobResult(job="send_digests", dry_run=dry_run)
    now = now or timezone.now()
    start = due_since(now)
    if site is not None or start is None:
        return result
    day = timezone.localdate(now).isoformat()
    silent = None  # read once somebody is due: most sweeps find nobody
    queued = []
    for ids in id_batches(_due(start), batch_size or get_setting("MAINTENANCE_BATCH_SIZE")):
        result.batches += 1
        if silent is None:
            silent = _silent_sites()
        with transaction.atomic():
            rows = locks.locked(
                _due(start).filter(pk__in=ids).select_related("user"),
                of=("self",),
                skip_locked=True,
            )
            for preference in rows:  # checked again under the lock: still due
                since = preference.last_digest_at or now - timedelta(days=1)
                if not news(preference.user, since, silent).exists():
                    if not dry_run:
                        _mark(preference, now)
                    continue
                result.emails_queued += 1
                if dry_run:
                    continue
                key = f"digest:{preference.user_id}:{day}"
                outbox.add_all(
                    [
                        outbox.build(
                            OutboxEmail.Kind.DIGEST,
                            key,
                            recipient=preference.user.email,
                            user=preference.user_id,
                            since=since.isoformat(),
                        )
                    ]
                )
                _mark(preference, now)
                queued.append(key)
        if queued:
            pending = OutboxEmail.objects.filter(
                dedup_key__in=queued, state=OutboxEmail.State.PENDING
            )
            for row in pending.only("pk"):
                outbox.send_on_commit(row)  # outside a transaction: queued at once
            queued = []
    return result


def _mark(preference, now):
    preference.last_digest_at = now
    preference.save(update_fields=["last_digest_at"])


# -- the email ----------------------------------------------------------------------------


def render_digest(row):
    """The summary of the outbox row ``row``, or ``None`` when it is not owed any more
    (the person left, changed their choice, or read everything meanwhile)."""
    user = (
        get_user_model()
        .objects.filter(
            pk=row.params.get("user"),
            is_active=True,
            messenger_preference__email_frequency=DAILY,
        )
        .exclude(email="")
        .first()
    )
    since = parse_datetime(row.params.get("since") or "")
    if user is None or not isinstance(since, datetime):
        return None
    found = news(user, since).select_related(
        "thread__site", "thread__last_message__sender", "group"
    )
    limit = get_setting("DIGEST_MAX_THREADS")
    shown = list(found[: limit + 1])
    if not shown:
        return None
    more = found.count() - limit if len(shown) > limit else 0
    conversations = [_entry(participant) for participant in shown[:limit]]
    site = shown[0].thread.site or Site.objects.filter(is_default_site=True).first()
    total = sum(participant.unread_count for participant in shown[:limit])
    context = {
        "recipient_name": clean_header(user.first_name or user.get_username()),
        "conversations": conversations,
        "count": len(conversations) + more,
        "more": more,
        "unread": total,
        "preferences_url": absolute_url(reverse("wagtail_messenger:preferences"), site),
        "inbox_url": absolute_url(reverse("wagtail_messenger:inbox"), site),
        "site_name": clean_header(site.site_name or site.hostname) if site else "",
    }
    headers = {
        "List-Unsubscribe": f"<{context['preferences_url']}>",
        "Auto-Submitted": "auto-generated",
    }
    return render_mail("digest", context, to=user.email, headers=headers)


def _entry(participant):
    """What the summary shows of one conversation."""
    from .mailer import preview

    thread = participant.thread
    last = thread.last_message
    shown = (
        last is not None
        and last.state == Message.State.VISIBLE
        and last.sender_id != participant.pk
        and not last.is_note
    )
    return {
        "title": clean_header(thread.title),
        "team": clean_header(participant.group.name) if participant.group_id else "",
        "unread": participant.unread_count,
        "sender_name": clean_header(last.sender.display_name) if shown else "",
        "preview": preview(last.body) if shown and for_site(thread.site).email_previews else "",
        "url": absolute_url(thread.get_absolute_url(), thread.site),
    }
