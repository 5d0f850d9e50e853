import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


def hash_token(raw):
    return hashlib.sha256(raw.encode()).hexdigest()


class AccessTokenQuerySet(models.QuerySet):
    def issue(self, *, email, purpose, max_age, thread=None, raw=None):
        """Create a token and return ``(row, raw)``; only the hash is stored. With
        ``raw`` (a token derived from an outbox email, the same on each attempt), the
        row of that token is created once, by the first attempt, and kept as it is by
        the others (one ``INSERT`` that skips a known hash; the row returned then is
        the one built here, not read back)."""
        from django.utils import timezone

        values = {
            "email": email,
            "purpose": purpose,
            "thread": thread,
            "expires_at": timezone.now() + max_age,
        }
        if raw is None:
            raw = secrets.token_urlsafe(32)
            return self.create(token_hash=hash_token(raw), **values), raw
        row = self.model(token_hash=hash_token(raw), **values)
        self.bulk_create([row], ignore_conflicts=True)
        return row, raw

    def valid(self, raw, purpose):
        from django.utils import timezone

        return self.filter(
            token_hash=hash_token(raw or ""), purpose=purpose, expires_at__gt=timezone.now()
        ).first()


class AccessToken(models.Model):
    """A private emailed link: guests reach their threads with it, invited sellers claim
    theirs. The raw token is only ever in the email; the database keeps a SHA-256."""

    class Purpose(models.TextChoices):
        GUEST = "guest", _("Guest access")
        INVITATION = "invitation", _("Invitation to register")
        CLAIM = "claim", _("Join guest threads to an account")

    token_hash = models.CharField(_("token hash"), max_length=64, unique=True)
    email = models.EmailField(_("email"))
    purpose = models.CharField(_("purpose"), max_length=12, choices=Purpose.choices)
    thread = models.ForeignKey(
        "wagtail_messenger.Thread",
        verbose_name=_("thread"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("Where the link lands."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"), db_index=True)
    used_at = models.DateTimeField(_("first used"), null=True, blank=True)

    objects = AccessTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("access link")
        verbose_name_plural = _("access links")

    def __str__(self):
        return f"{self.get_purpose_display()} for {self.email}"


class ProvenAddressQuerySet(models.QuerySet):
    def record(self, user, email):
        """Note that ``user`` proved ``email`` (idempotent; portable: no upsert)."""
        from django.db import IntegrityError, transaction

        if not email or user is None:
            return
        try:
            with transaction.atomic():
                self.get_or_create(user=user, email=email)
        except IntegrityError:  # recorded at the same moment by another request
            pass


class ProvenAddress(models.Model):
    """An email address a user proved by opening a link the plugin emailed to it (an
    invitation or a guest link) while logged in. Messages a contact form sends to that
    address go straight to that user's inbox; an account's own email field proves
    nothing (anyone can sign up with anyone's address)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="messenger_proven_addresses",
        db_index=False,  # wm_proven_one_per_user (user, email) serves it
    )
    email = models.EmailField(_("email"))
    proven_at = models.DateTimeField(_("proven"), auto_now_add=True)

    objects = ProvenAddressQuerySet.as_manager()

    class Meta:
        verbose_name = _("proven email address")
        verbose_name_plural = _("proven email addresses")
        indexes = [models.Index(fields=["email"], name="wm_proven_email")]
        constraints = [
            models.UniqueConstraint(fields=["user", "email"], name="wm_proven_one_per_user"),
        ]

    def __str__(self):
        return self.email


class ApiTokenQuerySet(models.QuerySet):
    def issue(self, user, *, name="", days=90):
        """Create a token for ``user`` and return ``(row, raw)``: the raw token is shown
        once (``messenger_api_token``); the database keeps its SHA-256."""
        from datetime import timedelta

        from django.utils import timezone

        raw = secrets.token_urlsafe(32)
        row = self.create(
            user=user,
            name=name,
            key_hash=hash_token(raw),
            expires_at=timezone.now() + timedelta(days=days),
        )
        return row, raw


class ApiToken(models.Model):
    """A key for a front end served from elsewhere: ``Authorization: Bearer <token>``
    acts as ``user`` in the JSON API (docs/api.md) until ``expires_at``. Deleting the
    row revokes it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="messenger_api_tokens",
    )
    name = models.CharField(_("name"), max_length=100, blank=True)
    key_hash = models.CharField(_("token hash"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"))
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self):
        return f"{self.user} ({self.name or self.pk})"
