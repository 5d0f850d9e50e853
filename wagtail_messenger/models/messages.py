import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..storage import attachment_storage

#: How many leading characters of a message the text index holds.
TEXT_HEAD_LENGTH = 100


class TextHead(models.Func):
    """The first ``TEXT_HEAD_LENGTH`` characters of a text, upper case: the indexed form
    of a message body (whole bodies are too long for a B-tree entry). The numbers are
    written into the SQL, not passed as parameters: SQLite uses an expression index only
    for the very same expression."""

    template = f"UPPER(SUBSTR(%(expressions)s, 1, {TEXT_HEAD_LENGTH}))"
    output_field = models.TextField()


class MessageQuerySet(models.QuerySet):
    def delivered(self):
        """Messages the recipients receive (held spam is not delivered yet)."""
        return self.exclude(state=Message.State.HELD)

    def seen_by(self, participant, blocked_since=None):
        """The messages ``participant`` sees in their thread: everything delivered, plus
        their own held messages (a sender is not told a message was held), minus what
        people they block sent since the block (``{participant_id: blocked_at}``)."""
        qs = self.filter(thread_id=participant.thread_id).filter(
            ~Q(state=Message.State.HELD) | Q(sender_id=participant.pk)
        )
        for sender_id, since in (blocked_since or {}).items():
            qs = qs.exclude(sender_id=sender_id, created_at__gte=since)
        return qs


class Message(models.Model):
    class Kind(models.TextChoices):
        MESSAGE = "message", _("Message")
        #: A note the messenger writes into the conversation when the listing changes
        #: ("This listing was marked as sold"): shown apart, never unread, never
        #: reported; ``data["listing_event"]`` says which (``services.lifecycle``).
        NOTE = "note", _("Listing update")

    class State(models.TextChoices):
        VISIBLE = "visible", _("Visible")
        HELD = "held", _("Held for review")
        HIDDEN = "hidden", _("Hidden by moderators")
        REMOVED = "removed", _("Removed by its author")

    thread = models.ForeignKey(
        "wagtail_messenger.Thread",
        verbose_name=_("thread"),
        on_delete=models.CASCADE,
        related_name="messages",
        # wm_msg_thread_page (thread, id) serves every lookup by thread; an index on the
        # thread alone only cost writes, and PostgreSQL picked it for the poll's
        # "thread = X and id > newest", reading every message of the thread.
        db_index=False,
    )
    sender = models.ForeignKey(
        "wagtail_messenger.Participant",
        verbose_name=_("sender"),
        # Participants go only with their thread, which takes its messages along.
        on_delete=models.RESTRICT,
        related_name="sent_messages",
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("written by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("For a team's message: the member of the group who wrote it."),
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.MESSAGE)
    body = models.TextField(_("message"))
    data = models.JSONField(
        _("structured content"),
        default=dict,
        blank=True,
        help_text=_("Submitted form fields, for messages that came from a contact form."),
    )
    created_at = models.DateTimeField(_("sent"), default=timezone.now)
    # The delivery sequence: numbered per thread, under the thread row's lock, when the
    # message becomes visible to its recipients (posted, or released by a moderator), so
    # in a thread the numbers follow the order the messages were committed. NULL while
    # held. The poll's cursor and the read marks are sequence numbers, never ids or
    # times: an id is taken before the commit, a time in Python.
    seq = models.PositiveBigIntegerField(
        _("delivery sequence"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("Position in the thread in the order messages were delivered."),
    )
    state = models.CharField(
        _("state"), max_length=10, choices=State.choices, default=State.VISIBLE
    )
    moderation_reason = models.CharField(
        _("reason"),
        max_length=255,
        blank=True,
        help_text=_("Shown to the participants when moderators hide the message."),
    )
    moderated_at = models.DateTimeField(_("moderated"), null=True, blank=True)
    moderated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("moderated by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    spam_score = models.FloatField(_("spam score"), null=True, blank=True)
    spam_reasons = models.JSONField(_("spam reasons"), default=list, blank=True)
    contains_contact_details = models.BooleanField(_("contains contact details"), default=False)
    # NULL when a message came without a key: NULLs are distinct from each other on
    # every database, so the plain unique constraint below needs no condition (MySQL
    # and MariaDB have no partial indexes: a condition would leave it unenforced).
    idempotency_key = models.CharField(
        _("idempotency key"),
        max_length=64,
        null=True,
        blank=True,
        help_text=_("Sent with the form so a double submit posts once."),
    )

    objects = MessageQuerySet.as_manager()

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["id"]
        indexes = [
            models.Index(fields=["thread", "id"], name="wm_msg_thread_page"),
            models.Index(
                fields=["created_at"], condition=Q(state="held"), name="wm_msg_held_queue"
            ),
            # The spam filter's "same text elsewhere" check finds messages by their text.
            models.Index(TextHead("body"), "created_at", name="wm_msg_text_head"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], name="wm_msg_idempotent_submit"),
            # NULLs (held messages) are distinct on every database: no condition needed.
            # Its index serves the poll ("thread = X and seq > cursor").
            models.UniqueConstraint(fields=["thread", "seq"], name="wm_msg_thread_seq"),
        ]

    def __str__(self):
        return self.body[:50]

    @property
    def is_note(self):
        return self.kind == self.Kind.NOTE

    @property
    def is_visible(self):
        return self.state == self.State.VISIBLE


def attachment_key(instance, filename):
    """Server-generated storage key; the uploaded name is never part of it."""
    now = timezone.now()
    return f"messenger/{now:%Y/%m}/{uuid.uuid4().hex}"


class Attachment(models.Model):
    message = models.OneToOneField(
        Message, verbose_name=_("message"), on_delete=models.CASCADE, related_name="attachment"
    )
    file = models.FileField(
        _("file"),
        storage=attachment_storage,
        upload_to=attachment_key,
        max_length=255,
        blank=True,
    )
    name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size in bytes"))
    created_at = models.DateTimeField(_("uploaded"), default=timezone.now, db_index=True)
    expired_at = models.DateTimeField(
        _("expired"),
        null=True,
        blank=True,
        help_text=_("Set when maintenance deleted the file; the message says it expired."),
    )

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self):
        return self.name

    @property
    def is_expired(self):
        return self.expired_at is not None


class Notification(models.Model):
    """An email owed to one participant about one message: the record of the "who is
    owed" decision, unique per participant and message, so a retried claim owes nothing
    twice. Sending it is an :class:`~wagtail_messenger.models.OutboxEmail`
    (``notification:<participant>:<message>``)."""

    participant = models.ForeignKey(
        "wagtail_messenger.Participant",
        verbose_name=_("recipient"),
        on_delete=models.CASCADE,
        related_name="notifications",
        db_index=False,  # wm_notification_once (participant, message) serves it
    )
    message = models.ForeignKey(
        Message, verbose_name=_("message"), on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("email notification")
        verbose_name_plural = _("email notifications")
        constraints = [
            models.UniqueConstraint(fields=["participant", "message"], name="wm_notification_once"),
        ]

    def __str__(self):
        return f"{self.participant} / {self.message_id}"
