"""Blocking people and opting out of being contacted."""

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from ..actors import Actor
from ..exceptions import NotAllowed
from ..models import Block, ContactPreference, Message, Participant
from . import access


def _other_participant(actor, participant_id):
    """A participant the actor shares a thread with (the only people one can block)."""
    other = Participant.objects.select_related("user").filter(pk=participant_id).first()
    if other is None or access.get_participant(actor, other.thread) is None:
        raise NotAllowed()
    return other


def _target(other):
    if other.user_id is not None:
        return {"blocked_user_id": other.user_id}
    if other.kind == Participant.Kind.GUEST and other.email:
        return {"blocked_email": other.email}
    raise NotAllowed(_("This participant cannot be blocked."))


def _their_rows(target):
    if "blocked_user_id" in target:
        return Q(user_id=target["blocked_user_id"])
    return Q(kind=Participant.Kind.GUEST, email=target["blocked_email"])


def block(actor, participant_id):
    """``actor`` (a user) blocks the person behind ``participant_id``. The blocked person
    is not told: they can still write, but nothing reaches ``actor`` until unblocked."""
    if actor.user is None:
        raise NotAllowed(_("Log in to block people."))
    other = _other_participant(actor, participant_id)
    if other.user_id == actor.user.pk:
        raise NotAllowed(_("You cannot block yourself."))
    target = _target(other)
    with transaction.atomic():
        block_row, _created = Block.objects.get_or_create(blocker=actor.user, **target)
        _recount_unread(actor, target, blocked=True)
    return block_row


def carry_guest_blocks(email, user):
    """The guest ``email`` became ``user``'s account (their guest conversations are the
    account's now): whoever blocked the address blocks the account too, from the time
    they blocked the address, so what the person sent or sends stays hidden from them.
    Runs inside the caller's transaction, after the rows changed hands."""
    for guest_block in Block.objects.filter(blocked_email=email).exclude(blocker=user):
        block, _created = Block.objects.get_or_create(
            blocker_id=guest_block.blocker_id, blocked_user=user
        )
        if block.created_at > guest_block.created_at:
            # ``created_at`` is set on insert; the earlier of the two blocks counts.
            Block.objects.filter(pk=block.pk).update(created_at=guest_block.created_at)
        blocker = Actor.for_user(guest_block.blocker)
        _recount_unread(blocker, {"blocked_user_id": user.pk}, blocked=True)


def unblock(actor, participant_id):
    """Lifts a block; what they sent meanwhile appears, counted as unread."""
    if actor.user is None:
        raise NotAllowed()
    other = _other_participant(actor, participant_id)
    target = _target(other)
    with transaction.atomic():
        Block.objects.filter(blocker=actor.user, **target).delete()
        _recount_unread(actor, target, blocked=False)


def _recount_unread(actor, target, *, blocked):
    """Recompute the actor's unread counters in the threads shared with the target, and
    sink (or raise) those threads in the actor's inbox.

    A rare write (block/unblock), so counting here keeps every read path on the stored
    counters."""
    their_threads = Participant.objects.filter(_their_rows(target)).values("thread_id")
    mine_rows = Participant.objects.for_actor(actor).live().filter(thread_id__in=their_threads)
    for mine in mine_rows.select_related("thread"):
        seen = access.visible_messages(actor, mine.thread, participant=mine)
        unread = seen.exclude(sender_id=mine.pk).filter(
            state=Message.State.VISIBLE, kind=Message.Kind.MESSAGE
        )
        unread = unread.filter(seq__gt=mine.last_read_seq)  # after the read mark
        changes = {"unread_count": unread.count(), "peer_blocked": blocked}
        if not blocked:
            # What arrived meanwhile shows: the thread takes its place by its latest
            # message again, back in the inbox if something new is there (delivery
            # leaves a blocker's row where it was).
            changes["last_message_at"] = mine.thread.last_message_at
            if changes["unread_count"] and mine.folder == Participant.Folder.ARCHIVE:
                changes["folder"] = Participant.Folder.INBOX
        Participant.objects.filter(pk=mine.pk).update(**changes)


def set_allow_contact(user, allow):
    """The "Allow others to contact me" switch: off refuses new threads (existing ones go
    on) and hides the button from the user's listings."""
    return set_preferences(user, allow_contact=allow)


PREFERENCE_FIELDS = ("allow_contact", "email_frequency")


def set_preferences(user, **changes):
    """Save the user's own switches: ``allow_contact`` (a bool) and ``email_frequency``
    (a :class:`ContactPreference.Frequency`, or "" for the site's pace). Choosing the
    daily summary starts it from now: the first one, at the next ``DIGEST_HOUR``,
    covers what comes from this moment (earlier messages were emailed already)."""
    if user is None or not user.is_authenticated:
        raise NotAllowed(_("Log in to change your messenger preferences."))
    unknown = set(changes) - set(PREFERENCE_FIELDS)
    if unknown:
        raise ValueError(f"Unknown preference: {', '.join(sorted(unknown))}")
    values = dict(changes)
    if "allow_contact" in values:
        values["allow_contact"] = bool(values["allow_contact"])
    frequency = values.get("email_frequency")
    if frequency is not None and frequency not in {"", *ContactPreference.Frequency.values}:
        raise ValueError(f"Unknown email frequency: {frequency!r}")
    with transaction.atomic():
        preference = ContactPreference.objects.select_for_update().filter(user=user).first()
        if preference is None:
            preference = ContactPreference(user=user)
        daily = ContactPreference.Frequency.DAILY
        if frequency == daily and preference.email_frequency != daily:
            values["last_digest_at"] = timezone.now()
        for name, value in values.items():
            setattr(preference, name, value)
        preference.save()
    return preference


def preferences_for(user):
    """The user's switches, unsaved defaults when they never changed them."""
    return ContactPreference.objects.filter(user_id=user.pk).first() or ContactPreference(user=user)


def is_blocked_by(blocker_user, participant):
    return Block.objects.filter(blocker=blocker_user).against(participant).exists()
