import swapper
from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q, Sum
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from wagtail.images import get_image_model_string

PAGE_MODEL = swapper.get_model_name("wagtailcore", "Page")


def thread_title(pk, listing_id, listing_title, subject):
    """What a thread is called (``Thread.title``), from its columns: the inbox rows read
    them without building a ``Thread``."""
    if listing_id and listing_title:
        return listing_title
    return subject or listing_title or _("Conversation #%(id)s") % {"id": pk}


class ThreadQuerySet(models.QuerySet):
    def visible_to(self, actor):
        """The one visibility rule: moderators see every thread; everybody else sees the
        threads they take part in and have not deleted for good (emptied from trash)."""
        if actor.is_anonymous:
            return self.none()
        if actor.is_moderator:
            return self
        return self.participating(actor)

    def participating(self, actor):
        """The threads ``actor`` takes part in (the participant half of the rule). Hot
        paths try this first and ask :meth:`visible_to` only when it finds nothing, so a
        participant's page never pays for the moderator permission lookup."""
        if actor.is_anonymous:
            return self.none()
        mine = Participant.objects.filter(actor.participant_q(), thread=OuterRef("pk")).exclude(
            folder=Participant.Folder.DELETED
        )
        return self.filter(Exists(mine))


class Thread(models.Model):
    class Origin(models.TextChoices):
        LISTING = "listing", _("Listing")
        QUESTION = "question", _("Question")
        CONTACT_FORM = "contact_form", _("Contact form")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed by moderators")
        SPAM = "spam", _("Spam")
        #: Closed by the maintenance job ``close_ended_listings``: the listing was sold,
        #: unpublished or deleted longer ago than the site's setting.
        ENDED = "ended", _("Closed: the listing has ended")

    class ListingState(models.TextChoices):
        AVAILABLE = "available", _("Available")
        RESERVED = "reserved", _("Reserved")
        SOLD = "sold", _("Sold")
        OFFLINE = "offline", _("No longer online")
        DELETED = "deleted", _("Deleted")

    site = models.ForeignKey(
        "wagtailcore.Site",
        verbose_name=_("site"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # wm_thread_site_recent (site, -last_message_at) serves it
    )
    listing = models.ForeignKey(
        PAGE_MODEL,
        verbose_name=_("listing"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("The page this conversation is about, if any."),
        db_index=False,  # wm_thread_listing_recent (listing, -last_message_at) serves it
    )
    listing_title = models.CharField(
        _("listing title"),
        max_length=255,
        blank=True,
        help_text=_("Snapshot kept when the listing page is deleted."),
    )
    listing_summary = models.CharField(
        _("listing summary"),
        max_length=255,
        blank=True,
        help_text=_(
            "What the listing card shows under the title: the page's messenger_summary() "
            "(its price, say), kept from the last publish."
        ),
    )
    listing_url = models.CharField(_("listing URL"), max_length=2048, blank=True)
    listing_image = models.ForeignKey(
        get_image_model_string(),
        verbose_name=_("listing image"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Snapshot of the listing's first image, shown once the page is gone."),
    )
    listing_state = models.CharField(
        _("listing state"),
        max_length=10,
        choices=ListingState.choices,
        blank=True,
        help_text=_("What the conversation last said about the listing (empty: available)."),
    )
    listing_ended_at = models.DateTimeField(
        _("listing ended"),
        null=True,
        blank=True,
        help_text=_("When the listing was sold, unpublished or deleted; empty while it is on."),
    )
    subject = models.CharField(_("subject"), max_length=255, blank=True)
    origin = models.CharField(
        _("origin"), max_length=20, choices=Origin.choices, default=Origin.QUESTION
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.OPEN
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_message_at = models.DateTimeField(_("last message"), db_index=True)
    last_message = models.ForeignKey(
        "wagtail_messenger.Message",
        verbose_name=_("last message"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    message_count = models.PositiveIntegerField(_("messages"), default=0)
    last_seq = models.PositiveBigIntegerField(
        _("last delivery sequence"),
        default=0,
        editable=False,
        help_text=_("The sequence number of the latest delivered message."),
    )

    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned to"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messenger_assigned_threads",
        help_text=_("The moderator who took this conversation."),
    )

    objects = ThreadQuerySet.as_manager()

    class Meta:
        verbose_name = _("thread")
        verbose_name_plural = _("threads")
        permissions = [("moderate_thread", _("Can moderate message threads"))]
        indexes = [
            models.Index(fields=["site", "-last_message_at"], name="wm_thread_site_recent"),
            models.Index(fields=["listing", "-last_message_at"], name="wm_thread_listing_recent"),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("wagtail_messenger:thread", args=[self.pk])

    @property
    def title(self):
        return thread_title(self.pk, self.listing_id, self.listing_title, self.subject)

    @property
    def listing_is_gone(self):
        return self.listing_id is None and bool(self.listing_title)

    @property
    def is_open(self):
        return self.status == self.Status.OPEN


class ParticipantQuerySet(models.QuerySet):
    def for_actor(self, actor):
        if actor.is_anonymous:
            return self.none()
        return self.filter(actor.participant_q())

    def live(self):
        return self.exclude(folder=Participant.Folder.DELETED)

    def unread_total(self, actor):
        """Unread messages over the actor's inbox and archive, from stored counters.

        Served by the partial index on rows with ``unread_count > 0``: it reads only the
        threads that have something unread, whatever the size of the inbox.
        """
        rows = self.for_actor(actor).filter(
            unread_count__gt=0,
            folder__in=[Participant.Folder.INBOX, Participant.Folder.ARCHIVE],
        )
        return rows.aggregate(total=Sum("unread_count"))["total"] or 0


class PersonDisplay:
    """How a participant is shown: for :class:`Participant` and for the lighter rows of
    the inbox (``selectors.Person``), which read the same columns without building
    model instances. Needs ``kind``, ``user_id``, ``name`` and ``email_verified``."""

    @property
    def is_guest(self):
        return self.kind == Participant.Kind.GUEST

    @property
    def email_unconfirmed(self):
        """A guest who typed this address and has not opened the link emailed to it:
        anyone could have typed it. Shown as "email not confirmed"."""
        return self.is_guest and not self.email_verified

    @property
    def is_deleted_user(self):
        """An account that was deleted, or a person erased on request (their row keeps
        no account and no address: ``services.privacy.erase_person``)."""
        if self.user_id is not None:
            return False
        if self.kind == Participant.Kind.USER:
            return True
        return self.kind == Participant.Kind.GUEST and not self.email

    @property
    def display_name(self):
        if self.is_deleted_user:
            return _("Deleted user")
        if self.is_guest:
            return _("%(name)s (guest)") % {"name": self.name}
        return self.name

    @property
    def initials(self):
        parts = [p for p in self.name.replace(".", " ").split() if p[:1].isalnum()]
        letters = "".join(p[0] for p in parts[:2]) or "?"
        return letters.upper()


class Participant(PersonDisplay, models.Model):
    """One person's (or team's) place in a thread, and their own view of it."""

    class Kind(models.TextChoices):
        USER = "user", _("User")
        GUEST = "guest", _("Guest")
        GROUP = "group", _("Team")
        INVITEE = "invitee", _("Invited (no account yet)")

    class Folder(models.TextChoices):
        INBOX = "inbox", _("Inbox")
        ARCHIVE = "archive", _("Archive")
        TRASH = "trash", _("Trash")
        DELETED = "deleted", _("Deleted")

    thread = models.ForeignKey(
        Thread,
        verbose_name=_("thread"),
        on_delete=models.CASCADE,
        related_name="participants",
        db_index=False,  # wm_part_one_row_per_user (thread, user) serves it
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        # Deleting an account keeps the conversation for the other side: the row stays,
        # with the name snapshot below.
        on_delete=models.SET_NULL,
        related_name="messenger_participations",
        db_index=False,  # wm_part_user_inbox (user, folder, …) serves it
    )
    group = models.ForeignKey(
        "auth.Group",
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messenger_participations",
        help_text=_("Members of this group share the thread like a team inbox."),
        db_index=False,  # wm_part_group_inbox (group, folder, …) serves it
    )
    name = models.CharField(_("name"), max_length=150)
    email = models.EmailField(_("email"), blank=True)
    is_initiator = models.BooleanField(_("started the thread"), default=False)
    email_verified = models.BooleanField(
        _("email confirmed"),
        default=True,
        help_text=_(
            "False for a guest who typed this address and has not opened the link emailed "
            'to it yet: the row is marked "email not confirmed" to the others and is not '
            "one of that address's conversations until then."
        ),
    )

    folder = models.CharField(
        _("folder"), max_length=10, choices=Folder.choices, default=Folder.INBOX
    )
    trashed_at = models.DateTimeField(_("moved to trash"), null=True, blank=True)
    flagged = models.BooleanField(_("flagged"), default=False)
    muted = models.BooleanField(
        _("notifications muted"), default=False, help_text=_("No emails for this thread.")
    )
    unread_count = models.PositiveIntegerField(_("unread messages"), default=0)
    peer_blocked = models.BooleanField(
        _("other party blocked"),
        default=False,
        help_text=_("Set while this person blocks the other party: the thread sinks, greyed."),
    )
    last_read_at = models.DateTimeField(_("last read"), null=True, blank=True)
    # What the read mark covers: every message of the thread up to this delivery
    # sequence number (``Message.seq``). ``last_read_at`` says when, for the pages.
    last_read_seq = models.PositiveBigIntegerField(
        _("read up to"),
        default=0,
        help_text=_("The delivery sequence number of the last message this person has seen."),
    )
    # Copied from the thread on every message so the inbox is one index range scan.
    last_message_at = models.DateTimeField(_("last message"))
    notified_at = models.DateTimeField(_("last notified"), null=True, blank=True)
    # One email per round ("no flood"): a round ends when the reader has seen the
    # message they were last emailed about.
    notified_seq = models.PositiveBigIntegerField(
        _("notified about"),
        default=0,
        help_text=_("The delivery sequence number of the message last emailed about."),
    )
    created_at = models.DateTimeField(_("joined"), auto_now_add=True)
    assigned_member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned team member"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("On a team's row: the member of the group who handles this thread."),
    )

    objects = ParticipantQuerySet.as_manager()

    class Meta:
        verbose_name = _("participant")
        verbose_name_plural = _("participants")
        indexes = [
            models.Index(
                fields=["user", "folder", "peer_blocked", "-last_message_at", "-id"],
                name="wm_part_user_inbox",
            ),
            models.Index(
                fields=["group", "folder", "peer_blocked", "-last_message_at"],
                name="wm_part_group_inbox",
            ),
            models.Index(
                fields=["email", "folder", "peer_blocked", "-last_message_at"],
                name="wm_part_email_inbox",
            ),
            # The rows with something unread, latest first: the header total reads the
            # first 100 of them (selectors.unread_total), a plan that stays an early-
            # stopping index scan whatever the table's physical order.
            models.Index(
                fields=["user", "-last_message_at"],
                condition=Q(unread_count__gt=0),
                name="wm_part_user_unread",
            ),
            models.Index(fields=["folder", "trashed_at"], name="wm_part_trash_age"),
        ]
        constraints = [
            # Guests, teams and invitees have no user: NULLs are distinct on every
            # database, so they are not limited, and no condition is needed (MySQL and
            # MariaDB would not enforce one).
            models.UniqueConstraint(fields=["thread", "user"], name="wm_part_one_row_per_user"),
        ]

    def __str__(self):
        return self.display_name
