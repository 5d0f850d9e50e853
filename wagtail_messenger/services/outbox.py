"""The outbox: every email the plugin sends is an :class:`OutboxEmail` row first.

A row is written where the decision to email is made (the claim of a message's
notifications, the request that asks for a guest link, the invitation and moderation
tasks), under a unique ``dedup_key``, so the same email is never owed twice. Sending a
row goes in three steps, each its own committed write:

1. **claim**: one conditional ``UPDATE`` sets ``lease_until`` and counts the attempt,
   only if the row is still pending, due, under the attempt bound and not leased to a
   live worker. Two workers cannot both win it, on any database.
2. **render and send**: the email is rendered from the ids the row keeps, with the
   row's ``Message-ID`` (the same on every attempt), over a connection with a timeout.
3. **record**: sent, or the error and the next attempt (``EMAIL_RETRY_DELAY`` doubled
   per attempt); an email that is not owed any more (the message was hidden, the
   recipient muted) is dropped.

A worker killed between 1 and 3 leaves a leased row: :func:`send_due` (the sweeper)
sends it again once the lease has expired. If the mail server had accepted it before
the kill, or accepted it and answered after the client's timeout, the recipient gets it
twice with the same ``Message-ID``: the most SMTP allows (the client cannot know), and
the duplicate is recognisable. Nothing is ever lost while attempts remain.
"""

import base64
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import get_connection
from django.core.mail.message import make_msgid
from django.core.mail.utils import DNS_NAME
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.module_loading import import_string

from .. import queue
from ..conf import get_setting
from ..models import OutboxEmail
from . import suppression

logger = logging.getLogger(__name__)

Kind = OutboxEmail.Kind
State = OutboxEmail.State

#: What renders each kind of email from its row: ``render(row)`` returns the email
#: (not sent), or ``None`` when it is not owed any more.
RENDERERS = {
    Kind.NOTIFICATION: "wagtail_messenger.services.mailer.render_notification",
    Kind.MODERATOR_ALERT: "wagtail_messenger.services.mailer.render_moderator_alert",
    Kind.GUEST_LINK: "wagtail_messenger.services.guests.render_link_email",
    Kind.INVITATION: "wagtail_messenger.services.invitations.render_invitation_email",
    Kind.DATA_EXPORT: "wagtail_messenger.services.privacy.render_export_email",
    Kind.REPLY_NOTICE: "wagtail_messenger.services.replies.render_notice",
    Kind.DIGEST: "wagtail_messenger.services.digests.render_digest",
}

#: The tasks that only hand emails to the outbox: safe to run again when a worker died
#: running them (see :func:`requeue_abandoned_tasks`).
EMAIL_TASKS = (
    "notify_recipients",
    "notify_moderators",
    "send_invitations",
    "send_guest_link",
    "send_email",
)

#: A mail backend whose timeout is unset gets this one (seconds): a hung connection must
#: end well before the lease does.
DEFAULT_TIMEOUT = 30


class DeliveryFailed(Exception):
    """Some emails could not be handed to the mail server; they are kept for a retry."""


@dataclass
class Outcome:
    sent: int = 0
    failed: list = field(default_factory=list)

    def check(self):
        if self.failed:
            raise DeliveryFailed(
                f"{len(self.failed)} email(s) not sent, kept for retry: " + "; ".join(self.failed)
            )
        return self.sent


# -- writing rows -------------------------------------------------------------------------


def message_id_domain():
    """The right-hand side of every ``Message-ID``: the site's own domain, from
    ``WAGTAILMESSENGER_BASE_URL`` or Wagtail's ``WAGTAILADMIN_BASE_URL``, so no header
    names the machine that sent it; the machine's name (Django's default) only when
    neither is set."""
    for url in (get_setting("BASE_URL"), getattr(settings, "WAGTAILADMIN_BASE_URL", "")):
        host = urlsplit(url or "").hostname
        if host and host != "localhost":
            return host
    return str(DNS_NAME)


def new_message_id():
    return make_msgid(domain=message_id_domain())


def build(kind, key, *, recipient="", **params):
    """An unsaved row (for :func:`add_all`)."""
    return OutboxEmail(
        kind=kind,
        dedup_key=key,
        recipient=recipient[:254],
        params=params,
        message_id=new_message_id(),
    )


def add(kind, key, *, recipient="", **params):
    """Save and return a new row (in the caller's transaction); ``key`` must be new
    (a guest link's request, each its own email). Keys that may be owed already go
    through :func:`add_all`."""
    row = build(kind, key, recipient=recipient, **params)
    row.save(force_insert=True)
    return row


def add_all(rows):
    """Save unsaved rows, skipping keys already owed (one query)."""
    if rows:
        OutboxEmail.objects.bulk_create(rows, ignore_conflicts=True)


def send_on_commit(row):
    """Try ``row`` once the current transaction commits (the ``send_email`` task); the
    sweeper retries it if that fails."""
    queue.after_commit("send_email", row.pk)


def link_token(row, purpose):
    """The raw token of the private link in ``row``'s email: derived from the row with
    the project's ``SECRET_KEY``, so every attempt renders the same link while the
    database keeps only its hash (``AccessToken``) and no queue ever holds it."""
    digest = salted_hmac(
        "wagtail_messenger.outbox.link", f"{purpose}:{row.pk}", algorithm="sha256"
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


# -- sending ------------------------------------------------------------------------------


def send_rows(rows, *, max_attempts=None):
    """Claim and send each row of ``rows`` (a queryset or a list) that is due."""
    if max_attempts is None:
        max_attempts = get_setting("NOTIFICATION_MAX_ATTEMPTS")
    outcome = Outcome()
    for row in rows:
        if claim(row, max_attempts):
            attempt(row, outcome, max_attempts)
    return outcome


def send_now(pk):
    """The ``send_email`` task: send one row if it is due. Raises :class:`DeliveryFailed`
    when the mail server refused it (it is kept for the sweeper)."""
    return send_rows(OutboxEmail.objects.filter(pk=pk, state=State.PENDING)).check()


def due(now=None, max_attempts=None):
    """Pending rows whose next attempt has come and whose lease (if any) has expired."""
    now = now or timezone.now()
    if max_attempts is None:
        max_attempts = get_setting("NOTIFICATION_MAX_ATTEMPTS")
    return OutboxEmail.objects.filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now),
        state=State.PENDING,
        next_attempt_at__lte=now,
        attempts__lt=max_attempts,
    )


def send_due(max_attempts=None, limit=1000):
    """The sweeper: send every due row (failed earlier, or left leased by a worker that
    died), and queue again the email tasks a dead worker left running. Returns how many
    were sent; raises :class:`DeliveryFailed` if the mail server still refuses some."""
    requeue_abandoned_tasks()
    rows = list(due(max_attempts=max_attempts).order_by("next_attempt_at", "pk")[:limit])
    return send_rows(rows, max_attempts=max_attempts).check()


def claim(row, max_attempts):
    """Lease ``row`` to this worker: one committed ``UPDATE`` that only one worker can
    win (its ``attempts`` must still be what this worker read)."""
    now = timezone.now()
    lease_until = now + get_setting("EMAIL_LEASE")
    won = (
        OutboxEmail.objects.filter(
            Q(lease_until__isnull=True) | Q(lease_until__lt=now),
            pk=row.pk,
            attempts=row.attempts,
            state=State.PENDING,
            next_attempt_at__lte=now,
            attempts__lt=max_attempts,
        ).update(lease_until=lease_until, attempts=F("attempts") + 1)
        == 1
    )
    if won:
        row.lease_until, row.attempts = lease_until, row.attempts + 1
    return won


def attempt(row, outcome, max_attempts):
    """Render and send a claimed row, then record what happened."""
    try:
        email = import_string(RENDERERS[row.kind])(row)
        if email is not None and not suppression.drop_suppressed(email):
            email = None  # every address bounced or complained: not owed any more
        if email is not None:
            email.extra_headers["Message-ID"] = row.message_id
            email.connection = connection()
            email.send()
    except Exception as error:  # SMTP and socket errors, and a broken template
        failed(row, error, max_attempts)
        outcome.failed.append(f"#{row.pk} {row.last_error}")
        if not isinstance(error, OSError):  # not the mail server: a bug to see
            logger.exception("Outgoing email %s could not be rendered", row.pk)
        return
    if email is None:
        _record(row, state=State.DROPPED, lease_until=None)
        return
    _record(row, state=State.SENT, sent_at=timezone.now(), lease_until=None, last_error="")
    outcome.sent += 1


def failed(row, error, max_attempts):
    delay = get_setting("EMAIL_RETRY_DELAY") * 2 ** max(row.attempts - 1, 0)
    row.last_error = f"{type(error).__name__}: {error}"[:2000]
    logger.warning(
        "Outgoing email %s (%s) not sent, attempt %s of %s: %s",
        row.pk,
        row.kind,
        row.attempts,
        max_attempts,
        row.last_error,
    )
    _record(
        row,
        last_error=row.last_error,
        lease_until=None,
        next_attempt_at=timezone.now() + min(delay, timedelta(days=1)),
    )


def _record(row, **values):
    # Only while this worker's lease stands: after it expired another worker may hold
    # the row (it then records its own attempt).
    OutboxEmail.objects.filter(pk=row.pk, attempts=row.attempts).update(**values)
    for name, value in values.items():
        setattr(row, name, value)


def connection():
    """The mail backend for one email, never without a timeout (``EMAIL_TIMEOUT``)."""
    backend = get_connection()
    if getattr(backend, "timeout", 0) is None:
        backend.timeout = DEFAULT_TIMEOUT
    return backend


# -- tasks a dead worker left running ------------------------------------------------------


def requeue_abandoned_tasks():
    """django-tasks-db marks a task RUNNING when a worker takes it and nothing ends it if
    that worker is killed. The plugin's email tasks only hand work to the outbox and are
    safe to run again: those RUNNING for longer than ``EMAIL_TASK_STALE_AFTER`` are
    marked failed and queued again. Returns how many; 0 without django-tasks-db."""
    from django.apps import apps

    if not apps.is_installed("django_tasks_db"):
        return 0
    from django_tasks_db.models import DBTaskResult

    stale = DBTaskResult.objects.filter(
        status="RUNNING",
        started_at__lt=timezone.now() - get_setting("EMAIL_TASK_STALE_AFTER"),
        task_path__in=[f"wagtail_messenger.tasks.{name}" for name in EMAIL_TASKS],
    )
    requeued = 0
    for result in stale:
        with transaction.atomic(using=DBTaskResult.objects.db):
            ended = DBTaskResult.objects.filter(pk=result.pk, status="RUNNING").update(
                status="FAILED",
                finished_at=timezone.now(),
                exception_class_path=f"{__name__}.AbandonedTask",
                traceback="The worker running this task stopped; queued again.",
            )
            if ended:
                args = result.args_kwargs
                result.task.enqueue(*args.get("args", []), **args.get("kwargs", {}))
                requeued += 1
    if requeued:
        logger.warning("Queued %s email task(s) again that a stopped worker left running", requeued)
    return requeued


class AbandonedTask(Exception):
    """Recorded on a task a killed worker left running (:func:`requeue_abandoned_tasks`)."""
