"""The moderation team's own records on a thread: private staff notes. Participants never
see them (no participant page, email, export or JSON endpoint reads this model)."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

#: The longest staff note accepted.
NOTE_MAX_LENGTH = 4000


class StaffNote(models.Model):
    thread = models.ForeignKey(
        "wagtail_messenger.Thread",
        verbose_name=_("thread"),
        on_delete=models.CASCADE,
        related_name="staff_notes",
        db_index=False,  # wm_note_thread (thread, created_at) serves it
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    text = models.TextField(
        _("note"),
        max_length=NOTE_MAX_LENGTH,
        help_text=_("Seen by moderators only, never by the participants."),
    )
    created_at = models.DateTimeField(_("written"), default=timezone.now)

    class Meta:
        verbose_name = _("staff note")
        verbose_name_plural = _("staff notes")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["thread", "created_at"], name="wm_note_thread")]

    def __str__(self):
        return self.text[:50]
