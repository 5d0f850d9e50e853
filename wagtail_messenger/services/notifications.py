"""Email notifications. The service layer calls these inside its writing transaction;
the work itself runs in django-tasks after the commit (``wagtail_messenger.tasks``,
enqueued through ``wagtail_messenger.queue``)."""

from django.core import signing
from django.db import transaction

from .. import queue
from ..conf import get_setting
from ..exceptions import InvalidLink
from ..models import ContactPreference, Participant


def message_delivered(message):
    """A message reached its recipients: their notification emails, after commit."""
    queue.after_commit("notify_recipients", message.pk)


def owed_again(message_id):
    """A reader's new round began with ``message_id`` still unread: work out its emails
    again, after commit (``services.participation.mark_read``)."""
    queue.after_commit("notify_recipients", message_id)


def message_held(message):
    """A message was held as spam: tell moderators who asked to know, after commit."""
    queue.after_commit("notify_moderators", "held", message.pk)


def message_reported(report):
    queue.after_commit("notify_moderators", "reported", report.message_id)


# -- the mute link of notification emails -----------------------------------------------

MUTE_SALT = "wagtail_messenger.mute"


def mute_token(participant):
    """A signed token naming ``participant``: the credential of the one-click mute link
    in their emails (it works without logging in, and only mutes that one thread)."""
    return signing.dumps(participant.pk, salt=MUTE_SALT)


def participant_for_mute_token(token):
    """The participant a mute token names, or :class:`InvalidLink` (also once it is
    older than ``WAGTAILMESSENGER_MUTE_LINK_MAX_AGE``)."""
    try:
        participant_id = signing.loads(
            token, salt=MUTE_SALT, max_age=get_setting("MUTE_LINK_MAX_AGE")
        )
    except signing.BadSignature:
        raise InvalidLink()
    participant = (
        Participant.objects.live()
        .select_related("thread")
        .filter(pk=participant_id if isinstance(participant_id, int) else None)
        .first()
    )
    if participant is None:
        raise InvalidLink()
    return participant


def mute(participant):
    """Stop notification emails about ``participant``'s thread (the mute link)."""
    with transaction.atomic():
        Participant.objects.filter(pk=participant.pk).update(muted=True)
    participant.muted = True
    return participant


# -- moderators' alerts -----------------------------------------------------------------


def wants_moderation_alerts(user):
    return ContactPreference.objects.filter(user=user, moderation_alerts=True).exists()


def set_moderation_alerts(user, on):
    """A moderator's "email me about reported and held messages" switch."""
    with transaction.atomic():
        ContactPreference.objects.update_or_create(
            user=user, defaults={"moderation_alerts": bool(on)}
        )
