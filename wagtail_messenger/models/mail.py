from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ReplyAddressQuerySet(models.QuerySet):
    def usable(self, now=None):
        return self.filter(revoked_at__isnull=True, expires_at__gt=now or timezone.now())


class ReplyAddress(models.Model):
    """The ``Reply-To`` of one notification email: ``reply+<key>@<REPLY_DOMAIN>``. A
    reply sent to it is posted in the thread as the participant it was emailed to
    (``services/replies.py``). The key is derived from the outbox row (every attempt of
    the email carries the same one) and only its SHA-256 is stored; it expires with the
    guest links (``GUEST_LINK_MAX_AGE``), stops working once the person's trash is
    emptied of the thread (their row is then "deleted"), and is deleted when the person
    is erased. ``revoked_at`` lets a project end one by hand."""

    key_hash = models.CharField(_("key hash"), max_length=64, unique=True)
    participant = models.ForeignKey(
        "wagtail_messenger.Participant",
        verbose_name=_("participant"),
        on_delete=models.CASCADE,
        related_name="reply_addresses",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"), db_index=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    objects = ReplyAddressQuerySet.as_manager()

    class Meta:
        verbose_name = _("reply address")
        verbose_name_plural = _("reply addresses")

    def __str__(self):
        return f"reply address of participant {self.participant_id}"


class SuppressedAddress(models.Model):
    """An address the plugin no longer emails: the mail provider reported a hard bounce,
    a spam complaint or a rejection (django-anymail's ``tracking`` signal). Notifications
    and every other email of the outbox skip it; moderators see why in the admin, and
    deleting the row (the address was fixed) lets mail go to it again."""

    class Reason(models.TextChoices):
        BOUNCED = "bounced", _("Hard bounce")
        COMPLAINED = "complained", _("Marked as spam")
        REJECTED = "rejected", _("Refused by the mail provider")

    email = models.EmailField(_("email"), max_length=254, unique=True)
    reason = models.CharField(_("reason"), max_length=12, choices=Reason.choices)
    detail = models.CharField(
        _("detail"),
        max_length=500,
        blank=True,
        help_text=_("What the mail provider said (its description or the server's answer)."),
    )
    esp = models.CharField(_("mail provider"), max_length=40, blank=True)
    events = models.PositiveIntegerField(_("events"), default=1)
    created_at = models.DateTimeField(_("first reported"), auto_now_add=True)
    updated_at = models.DateTimeField(_("last reported"), auto_now=True)

    class Meta:
        verbose_name = _("suppressed email address")
        verbose_name_plural = _("suppressed email addresses")

    def __str__(self):
        return f"{self.email} ({self.get_reason_display()})"
