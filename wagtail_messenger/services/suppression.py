"""Addresses the plugin stops emailing: hard bounces, complaints and rejections reported
by the mail provider (django-anymail's ``tracking`` signal, connected in
``anymail_handlers.py``).

- A **hard bounce** (the address does not exist), a **complaint** (the person marked an
  email as spam) or a **rejection** by the provider (its own suppression list, an
  invalid address) records a :class:`~wagtail_messenger.models.SuppressedAddress`.
- A **soft bounce** (mailbox full, greylisting, a server down: a ``4xx`` answer, or what
  the provider calls soft, transient or temporary) changes nothing: the provider, or
  the outbox for plain SMTP, tries again.

Every email of the outbox goes through :func:`drop_suppressed` just before it is sent:
suppressed addresses are taken off it, and an email left with nobody is recorded as no
longer owed. Moderators see the suppression on the thread's participants and in the
admin's list, where deleting it (the address was fixed) lets mail go to it again.
"""

import logging
import re

from django.db import IntegrityError, transaction
from django.db.models import F

from ..actors import normalise_email
from ..models import SuppressedAddress

logger = logging.getLogger(__name__)

Reason = SuppressedAddress.Reason

_SOFT_WORDS = ("soft", "transient", "temporary", "deferred")
_SMTP_TEMPORARY = re.compile(r"^\s*4\d\d\b|\b4\.\d{1,3}\.\d{1,3}\b")


def is_soft_bounce(event):
    """Whether a ``bounced`` event is only temporary: the server's answer is a ``4xx``,
    or the provider's own field says so (Postmark ``Type``, Amazon SES ``bounceType``,
    Mailgun ``severity``, SendGrid ``type``...)."""
    if _SMTP_TEMPORARY.search(event.mta_response or ""):
        return True
    raw = event.esp_event if isinstance(event.esp_event, dict) else {}
    fields = [raw.get(name) for name in ("Type", "type", "severity", "bounce_type", "bounceType")]
    nested = raw.get("bounce") if isinstance(raw.get("bounce"), dict) else {}
    fields.append(nested.get("bounceType"))
    return any(isinstance(value, str) and value.lower().startswith(_SOFT_WORDS) for value in fields)


def reason_for(event):
    """The :class:`SuppressedAddress.Reason` an anymail tracking event stands for, or
    ``None`` when it does not stop mail."""
    if event.event_type == "complained":
        return Reason.COMPLAINED
    if event.event_type == "rejected":
        return Reason.REJECTED
    if event.event_type == "bounced" and not is_soft_bounce(event):
        return Reason.BOUNCED
    return None


def record(event, esp_name=""):
    """Record a tracking event; returns the :class:`SuppressedAddress` or ``None``."""
    reason = reason_for(event)
    email = normalise_email(event.recipient)
    if reason is None or not email:
        if event.event_type == "bounced" and email:
            logger.info("Soft bounce for %s (%s): kept sending", email, esp_name)
        return None
    detail = " ".join(str(event.description or event.mta_response or "").split())[:500]
    values = {"reason": reason, "detail": detail, "esp": (esp_name or "")[:40]}
    try:
        with transaction.atomic():
            row, created = SuppressedAddress.objects.get_or_create(email=email, defaults=values)
    except IntegrityError:  # the same address reported at the same moment
        row, created = SuppressedAddress.objects.get(email=email), False
    if not created:
        # A complaint outranks a bounce in what the moderator is shown.
        if reason == Reason.COMPLAINED or row.reason != Reason.COMPLAINED:
            values["reason"] = reason
        else:
            values["reason"] = row.reason
        SuppressedAddress.objects.filter(pk=row.pk).update(events=F("events") + 1, **values)
    logger.warning("No more email to %s: %s (%s) %s", email, reason, esp_name, detail)
    return row


def suppressed(addresses):
    """The addresses of ``addresses`` that are suppressed (normalised)."""
    wanted = {normalise_email(a) for a in addresses if a}
    if not wanted:
        return set()
    return set(SuppressedAddress.objects.filter(email__in=wanted).values_list("email", flat=True))


def drop_suppressed(email):
    """Take suppressed addresses off ``email`` (a Django ``EmailMessage``); returns
    whether anybody is left to send it to."""
    from email.utils import parseaddr

    everyone = [*email.to, *email.cc, *email.bcc]
    stopped = suppressed(parseaddr(a)[1] for a in everyone)
    if stopped:

        def keep(addresses):
            return [a for a in addresses if normalise_email(parseaddr(a)[1]) not in stopped]

        email.to, email.cc, email.bcc = keep(email.to), keep(email.cc), keep(email.bcc)
    return bool(email.to or email.cc or email.bcc)
