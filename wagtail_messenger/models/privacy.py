import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..storage import attachment_storage

#: Exports live in the private storage under this folder: not the attachments' folder,
#: so the orphan-file sweep never takes them; the export job deletes them on expiry.
EXPORT_PREFIX = "messenger-exports"


def export_key(instance, filename):
    """Server-generated storage key of an export's zip."""
    return f"{EXPORT_PREFIX}/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.zip"


class DataExportQuerySet(models.QuerySet):
    def of_person(self, *, user=None, email=""):
        """Exports a person asked for themselves (not the ones the admin produced)."""
        if user is not None:
            return self.filter(user=user, requested_by__isnull=True)
        return self.filter(user__isnull=True, email=email, requested_by__isnull=True)

    def expired(self, now=None):
        return self.filter(expires_at__lte=now or timezone.now())


class DataExport(models.Model):
    """A person's "download my data" zip (GDPR articles 15 and 20): built by the
    ``build_data_export`` task into the private storage, downloadable by that person
    (or the admin who produced it) until ``expires_at``, then deleted by maintenance."""

    class State(models.TextChoices):
        PENDING = "pending", _("Being prepared")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("person"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="messenger_data_exports",
        help_text=_("Whose data, for an account; empty for a guest."),
    )
    email = models.EmailField(_("email"), blank=True, help_text=_("Whose data, for a guest."))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("produced by"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("The admin who produced it; empty when the person asked."),
    )
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.PENDING
    )
    file = models.FileField(
        _("file"), storage=attachment_storage, upload_to=export_key, max_length=255, blank=True
    )
    size = models.PositiveBigIntegerField(_("size in bytes"), default=0)
    created_at = models.DateTimeField(_("requested"), default=timezone.now, db_index=True)
    ready_at = models.DateTimeField(_("ready"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"), db_index=True)

    objects = DataExportQuerySet.as_manager()

    class Meta:
        verbose_name = _("personal data export")
        verbose_name_plural = _("personal data exports")

    def __str__(self):
        return f"Data export #{self.pk}"

    @property
    def is_expired(self):
        return self.expires_at <= timezone.now()

    @property
    def is_ready(self):
        return self.state == self.State.READY and bool(self.file) and not self.is_expired
