from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class BlockQuerySet(models.QuerySet):
    def against(self, person):
        """The blocks of ``person`` (a participant or a party): by account, else by
        their address; none for somebody with neither (NULL matches nothing)."""
        user_id = getattr(person, "user_id", None)
        if user_id is None and getattr(person, "user", None) is not None:
            user_id = person.user.pk
        if user_id is not None:
            return self.filter(blocked_user_id=user_id)
        if person.email:
            return self.filter(blocked_email=person.email)
        return self.none()


class Block(models.Model):
    """``blocker`` no longer receives what the blocked person sends (they are not told)."""

    blocker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("blocked by"),
        on_delete=models.CASCADE,
        related_name="messenger_blocks",
        db_index=False,  # wm_block_user_once and wm_block_email_once (blocker, …) serve it
    )
    blocked_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("blocked user"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    # NULL for a block of an account (as ``blocked_user`` is for a guest's): NULLs are
    # distinct on every database, so the unique constraints below need no condition.
    blocked_email = models.EmailField(
        _("blocked guest email"),
        null=True,
        blank=True,
        help_text=_("For guests, who have no account."),
    )
    created_at = models.DateTimeField(_("blocked"), auto_now_add=True)

    objects = BlockQuerySet.as_manager()

    class Meta:
        verbose_name = _("block")
        verbose_name_plural = _("blocks")
        constraints = [
            models.UniqueConstraint(fields=["blocker", "blocked_user"], name="wm_block_user_once"),
            models.UniqueConstraint(
                fields=["blocker", "blocked_email"], name="wm_block_email_once"
            ),
            # An account or an address (never the empty one, which is no address).
            models.CheckConstraint(
                condition=Q(blocked_user__isnull=False)
                | (Q(blocked_email__isnull=False) & ~Q(blocked_email="")),
                name="wm_block_has_target",
            ),
        ]

    def __str__(self):
        return f"{self.blocker} blocks {self.blocked_user or self.blocked_email}"


class Ban(models.Model):
    """A sender blocked site-wide by moderators: nothing they send is delivered."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    email = models.EmailField(_("email"), blank=True)
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("banned by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("banned"), auto_now_add=True)

    class Meta:
        verbose_name = _("site-wide block")
        verbose_name_plural = _("site-wide blocks")
        indexes = [models.Index(fields=["email"], name="wm_ban_email")]

    def __str__(self):
        return str(self.user or self.email)


class ContactPreference(models.Model):
    """A user's own messenger switches."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="messenger_preference",
    )
    allow_contact = models.BooleanField(
        _("allow others to contact me"),
        default=True,
        help_text=_("When off, nobody can start a new conversation with you."),
    )

    class Frequency(models.TextChoices):
        """How often the person hears about new messages by email (blank: as the site's
        "email notifications" setting says). A site set to "Never" sends none at all."""

        EVERY = "every", _("An email for every new message")
        ROUND = "round", _("One email, then none until I have read the conversation")
        DAILY = "daily", _("A daily summary")
        NEVER = "never", _("Never")

    email_frequency = models.CharField(
        _("email me about new messages"),
        max_length=10,
        choices=Frequency.choices,
        blank=True,
        default="",
        help_text=_("Blank: as the site's notification setting says."),
    )
    last_digest_at = models.DateTimeField(
        _("last daily summary"),
        null=True,
        blank=True,
        help_text=_("When the last daily summary was queued: the next covers what came since."),
    )
    moderation_alerts = models.BooleanField(
        _("email me about reported and held messages"),
        default=False,
        help_text=_("For moderators."),
    )

    class Meta:
        verbose_name = _("messenger preference")
        verbose_name_plural = _("messenger preferences")

    def __str__(self):
        return str(self.user)


class Report(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Waiting for review")
        RESOLVED = "resolved", _("Resolved")
        DISMISSED = "dismissed", _("Dismissed")

    message = models.ForeignKey(
        "wagtail_messenger.Message",
        verbose_name=_("message"),
        on_delete=models.CASCADE,
        related_name="reports",
    )
    reporter = models.ForeignKey(
        "wagtail_messenger.Participant",
        verbose_name=_("reported by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reason = models.TextField(_("reason"), blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    created_at = models.DateTimeField(_("reported"), auto_now_add=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("resolved by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        indexes = [models.Index(fields=["status", "created_at"], name="wm_report_queue")]

    def __str__(self):
        return f"Report on message {self.message_id}"
