from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel, MultiFieldPanel, ObjectList, TabbedInterface
from wagtail.contrib.settings.models import BaseSiteSetting, register_setting

# The widest set editors may choose from. HTML, SVG, scripts and executables are not in
# it and cannot be added from the admin: the field validator refuses anything else.
SAFE_EXTENSIONS = ("jpg", "jpeg", "png", "gif", "webp", "pdf", "txt")
DEFAULT_EXTENSIONS = "jpg, jpeg, png, pdf"


def parse_extensions(value):
    return [e.strip().lstrip(".").lower() for e in (value or "").split(",") if e.strip()]


def validate_extensions(value):
    unknown = [e for e in parse_extensions(value) if e not in SAFE_EXTENSIONS]
    if unknown:
        raise ValidationError(
            _("Not allowed: %(unknown)s. Choose among: %(safe)s."),
            params={"unknown": ", ".join(unknown), "safe": ", ".join(SAFE_EXTENSIONS)},
        )


def days_field(verbose_name, help_text, default=0):
    return models.PositiveIntegerField(
        verbose_name, default=default, help_text=help_text, validators=[MaxValueValidator(36500)]
    )


@register_setting(icon="mail")
class MessengerSettings(BaseSiteSetting):
    class NotificationMode(models.TextChoices):
        EVERY = "every", _("Every new message")
        ROUND = "round", _("Only when everything before it was read (no flood)")
        NEVER = "never", _("Never")

    class ContactDetails(models.TextChoices):
        ALLOW = "allow", _("Allow")
        WARN = "warn", _("Allow, with a warning to the recipient")
        HOLD = "hold", _("Hold the message for review")

    # General
    enabled = models.BooleanField(
        _("messenger on"), default=True, help_text=_("Turn all messaging off on this site.")
    )
    show_button = models.BooleanField(
        _('"Send message" button on listings'),
        default=True,
        help_text=_("Adds the button to listing pages without editing templates."),
    )
    show_unread_badge = models.BooleanField(
        _('floating "Messages" badge'),
        default=False,
        help_text=_(
            'Shows people with conversations a small "Messages (3)" badge in a corner of '
            "every page, without editing templates. Leave off when the site's header "
            "already shows the messenger's widget."
        ),
    )
    guests_may_write = models.BooleanField(
        _("visitors without an account may write"),
        default=True,
        help_text=_("Guests give a name and email and receive a private link to their thread."),
    )
    contact_forms_deliver_messages = models.BooleanField(
        _("contact forms deliver messages instead of email"),
        default=False,
        help_text=_(
            "Form pages using the messenger mixin start a thread with the recipient instead "
            "of sending an email. Submissions are still stored."
        ),
    )
    users_may_remove_messages = models.BooleanField(
        _("users may remove their own messages"),
        default=True,
        help_text=_('The other party then sees "message removed".'),
    )
    erase_removes_messages = models.BooleanField(
        _("erasing a person removes their messages"),
        default=False,
        help_text=_(
            "When a person is erased (account deleted, a guest's erase request), their "
            'messages stay by default, under "Deleted user", so the other party keeps a '
            "readable history. When on, their texts are blanked and shown as removed."
        ),
    )
    fallback_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("fallback recipient"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Receives messages about listings that have no owner."),
    )
    fallback_group = models.ForeignKey(
        "auth.Group",
        verbose_name=_("fallback team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_(
            "Alternatively, a group whose members share such threads like a team inbox. "
            "Used when no fallback recipient is chosen."
        ),
    )

    # Notifications
    notification_mode = models.CharField(
        _("email notifications"),
        max_length=10,
        choices=NotificationMode.choices,
        default=NotificationMode.ROUND,
        help_text=_(
            '"No flood" sends one email per round: nothing more until the recipient has '
            "read the thread."
        ),
    )
    email_previews = models.BooleanField(
        _("message previews in emails"),
        default=True,
        help_text=_("Turn off to keep message text out of mailboxes."),
    )

    # Attachments
    attachments_enabled = models.BooleanField(
        _("attachments on"), default=True, help_text=_("One file per message.")
    )
    allowed_extensions = models.CharField(
        _("allowed file types"),
        max_length=255,
        default=DEFAULT_EXTENSIONS,
        validators=[validate_extensions],
        help_text=_("Comma-separated, among: %(safe)s.") % {"safe": ", ".join(SAFE_EXTENSIONS)},
    )
    max_attachment_mb = models.PositiveSmallIntegerField(
        _("maximum file size (MB)"),
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
    )

    # Spam and safety
    spam_filter_enabled = models.BooleanField(_("spam filter on"), default=True)
    spam_threshold = models.FloatField(
        _("spam threshold"),
        default=5.0,
        validators=[MinValueValidator(0.5)],
        help_text=_("Messages scoring this much or more are held for a moderator."),
    )
    blocked_words = models.TextField(
        _("blocked words"),
        blank=True,
        help_text=_("One word or phrase per line; each one found adds to the spam score."),
    )
    contact_details = models.CharField(
        _("contact details in messages"),
        max_length=10,
        choices=ContactDetails.choices,
        default=ContactDetails.ALLOW,
        help_text=_(
            "Emails and phone numbers in messages, for sites that keep deals on-site. "
            '"Warn" shows the recipient a warning on the message.'
        ),
    )
    guest_messages_per_hour = models.PositiveSmallIntegerField(
        _("guest messages per hour"),
        default=10,
        help_text=_("Per visitor (IP address and email). 0 means no limit."),
    )
    guest_threads_per_day = models.PositiveSmallIntegerField(
        _("new guest conversations per day"),
        default=5,
        help_text=_("Per visitor (IP address and email). 0 means no limit."),
    )

    account_messages_per_minute = models.PositiveSmallIntegerField(
        _("account messages per minute"),
        default=20,
        help_text=_(
            "Per signed-in account; moderators and staff are not limited. 0 means no limit."
        ),
    )
    account_threads_per_day = models.PositiveSmallIntegerField(
        _("new account conversations per day"),
        default=50,
        help_text=_("Conversations a signed-in account may start per day. 0 means no limit."),
    )
    new_account_days = models.PositiveSmallIntegerField(
        _("accounts are new for (days)"),
        default=3,
        help_text=_("Accounts younger than this have the lower limits below. 0: none are new."),
    )
    new_account_messages_per_minute = models.PositiveSmallIntegerField(
        _("new account messages per minute"), default=6, help_text=_("0 means no limit.")
    )
    new_account_threads_per_day = models.PositiveSmallIntegerField(
        _("new account conversations per day"), default=10, help_text=_("0 means no limit.")
    )
    guest_link_emails_per_day = models.PositiveSmallIntegerField(
        _("private link emails per address per day"),
        default=5,
        help_text=_(
            'Emails with a private link ("lost your link?", a guest\'s first message) sent '
            "to one address per day, whatever the IP addresses asking. 0 means no limit."
        ),
    )

    # Maintenance (0 = off)
    purge_inactive_threads_days = days_field(
        _("delete threads inactive for (days)"), _("0 turns this off. Example: 360.")
    )
    purge_attachments_days = days_field(
        _("delete attachments older than (days)"),
        _("The message stays and says the attachment expired. 0 turns this off."),
    )
    empty_trash_days = days_field(_("empty trash after (days)"), _("0 turns this off."), default=30)
    auto_archive_days = days_field(_("archive threads idle for (days)"), _("0 turns this off."))
    close_ended_listings_days = days_field(
        _("close conversations of ended listings after (days)"),
        _(
            "A listing has ended when it is sold, unpublished or deleted. Its conversations "
            "then accept no new message; they open again if the listing comes back. "
            "0 keeps them open."
        ),
    )

    select_related = ["fallback_user", "fallback_group"]

    edit_handler = TabbedInterface(
        [
            ObjectList(
                [
                    FieldPanel("enabled"),
                    FieldPanel("show_button"),
                    FieldPanel("show_unread_badge"),
                    FieldPanel("guests_may_write"),
                    FieldPanel("contact_forms_deliver_messages"),
                    FieldPanel("users_may_remove_messages"),
                    FieldPanel("erase_removes_messages"),
                    MultiFieldPanel(
                        [FieldPanel("fallback_user"), FieldPanel("fallback_group")],
                        heading=_("Listings without an owner"),
                    ),
                ],
                heading=_("General"),
            ),
            ObjectList(
                [FieldPanel("notification_mode"), FieldPanel("email_previews")],
                heading=_("Notifications"),
            ),
            ObjectList(
                [
                    FieldPanel("attachments_enabled"),
                    FieldPanel("allowed_extensions"),
                    FieldPanel(
                        "max_attachment_mb",
                        help_text=_("Larger files are refused with a message. From 1 to 100."),
                    ),
                ],
                heading=_("Attachments"),
            ),
            ObjectList(
                [
                    FieldPanel(
                        "spam_filter_enabled",
                        help_text=_(
                            "Scores each message (links, blocked words, the same text sent "
                            "to many people, bursts from new guests); high scores wait for "
                            "a moderator in the review queue."
                        ),
                    ),
                    FieldPanel("spam_threshold"),
                    FieldPanel("blocked_words"),
                    FieldPanel("contact_details"),
                    MultiFieldPanel(
                        [
                            FieldPanel("guest_messages_per_hour"),
                            FieldPanel("guest_threads_per_day"),
                            FieldPanel("guest_link_emails_per_day"),
                        ],
                        heading=_("Limits for guests"),
                    ),
                    MultiFieldPanel(
                        [
                            FieldPanel("account_messages_per_minute"),
                            FieldPanel("account_threads_per_day"),
                            FieldPanel("new_account_days"),
                            FieldPanel("new_account_messages_per_minute"),
                            FieldPanel("new_account_threads_per_day"),
                        ],
                        heading=_("Limits for accounts"),
                    ),
                ],
                heading=_("Spam and safety"),
            ),
            ObjectList(
                [
                    FieldPanel("purge_inactive_threads_days"),
                    FieldPanel("purge_attachments_days"),
                    FieldPanel("empty_trash_days"),
                    FieldPanel("auto_archive_days"),
                    FieldPanel("close_ended_listings_days"),
                ],
                heading=_("Maintenance"),
            ),
        ]
    )

    class Meta:
        verbose_name = _("Messenger")
        verbose_name_plural = _("Messenger settings")

    #: How long a process may keep a site's settings in the default cache
    #: (``services.settings.for_site``, the messenger's own pages). Saving or deleting
    #: them clears the entry at once; with a per-process cache (LocMemCache) the other
    #: processes see the change when their entry expires. Wagtail's ``for_site``, which
    #: the admin's edit view uses, always reads the database.
    CACHE_SECONDS = 60

    @staticmethod
    def cache_key(site_id):
        return f"wagtail_messenger:settings:{site_id}"

    def forget_cached(self):
        """Drop the cached copy now and again when the transaction commits, so a
        request that read the old row meanwhile cannot put it back for long. (Reading
        the settings inside the saving transaction itself would cache values that a
        rollback then undoes; the admin's edit view does not.)"""
        key = self.cache_key(self.site_id)
        cache.delete(key)
        transaction.on_commit(lambda: cache.delete(key))

    @property
    def extension_list(self):
        return parse_extensions(self.allowed_extensions)

    @property
    def blocked_word_list(self):
        return [w.strip().lower() for w in self.blocked_words.splitlines() if w.strip()]

    @property
    def max_attachment_bytes(self):
        return self.max_attachment_mb * 1024 * 1024
