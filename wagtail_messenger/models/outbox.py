from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class OutboxEmail(models.Model):
    """One email the plugin owes somebody: every outgoing email is a row here first
    (``services/outbox.py``), then sent by whoever claims it (the task queued after the
    commit, or the sweeper). The row keeps what is needed to render the email at send
    time (ids, never a message text or a raw token) and a ``Message-ID`` that every
    attempt reuses, so a resend is the same email. A pending row with as many attempts
    as ``WAGTAILMESSENGER_NOTIFICATION_MAX_ATTEMPTS`` has been given up on (the command's
    ``--max-attempts`` can try it again)."""

    class Kind(models.TextChoices):
        NOTIFICATION = "notification", _("New message notification")
        GUEST_LINK = "guest_link", _("Guest's private link")
        INVITATION = "invitation", _("Invitation")
        MODERATOR_ALERT = "moderator_alert", _("Moderation alert")
        DATA_EXPORT = "data_export", _("Personal data export ready")
        REPLY_NOTICE = "reply_notice", _("About an emailed reply")
        DIGEST = "digest", _("Daily summary")

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting to be sent")
        SENT = "sent", _("Sent")
        DROPPED = "dropped", _("No longer owed")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    dedup_key = models.CharField(
        _("deduplication key"),
        max_length=191,  # an indexed utf8mb4 column on old MySQL
        unique=True,
        help_text=_("Names the email owed, e.g. notification:<message>:<participant>."),
    )
    recipient = models.CharField(
        _("recipient"),
        max_length=254,
        blank=True,
        help_text=_("The address, or what the addresses are worked out from at send time."),
    )
    params = models.JSONField(
        _("parameters"), default=dict, help_text=_("The ids the email is rendered from.")
    )
    message_id = models.CharField(
        _("Message-ID"), max_length=255, help_text=_("The same on every attempt.")
    )
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    lease_until = models.DateTimeField(
        _("claimed until"),
        null=True,
        blank=True,
        help_text=_("A worker is sending it; another may only after this time."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("outgoing email")
        verbose_name_plural = _("outgoing emails")
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="wm_outbox_due")]

    def __str__(self):
        return self.dedup_key
