"""Read-side access: what an actor may see. Everything here goes through
``Thread.objects.visible_to(actor)`` and ``Participant.objects.for_actor(actor)``."""

from django.db.models import OuterRef, Q, Subquery
from django.db.models.functions import Coalesce

from ..exceptions import NotAllowed
from ..models import Block, Message, Participant, Thread


def get_visible_thread(actor, thread_id):
    """The thread, or :class:`NotAllowed` (views answer 404: a stranger cannot tell a
    foreign thread from a missing one)."""
    try:
        thread_id = int(thread_id)
    except (TypeError, ValueError):
        raise NotAllowed()
    threads = Thread.objects.select_related("site", "listing").filter(pk=thread_id)
    thread = threads.participating(actor).first()
    if thread is None and actor.is_moderator:
        thread = threads.first()
    if thread is None:
        raise NotAllowed()
    return thread


def get_participant(actor, thread):
    """The actor's own live row in ``thread``, or ``None`` (moderators are not
    participants unless they take part)."""
    if actor.is_anonymous:
        return None
    return Participant.objects.for_actor(actor).live().filter(thread=thread).order_by("pk").first()


def require_participant(actor, thread):
    participant = get_participant(actor, thread)
    if participant is None:
        raise NotAllowed()
    return participant


def blocks_q_for(user_id):
    """``Q`` over ``Participant`` rows whose person the user ``user_id`` blocks."""
    blocks = Block.objects.filter(blocker_id=user_id)
    return Q(user_id__in=blocks.filter(blocked_user__isnull=False).values("blocked_user_id")) | Q(
        kind=Participant.Kind.GUEST,
        email__in=blocks.exclude(blocked_email="").values("blocked_email"),
    )


def blocked_since(participant):
    """``{participant_id: blocked_at}`` for the people in this thread whom
    ``participant`` blocks: what they sent from then on does not reach ``participant``."""
    if participant.user_id is None:
        return {}
    blocks = Block.objects.filter(blocker_id=participant.user_id)
    by_user = blocks.filter(blocked_user_id=OuterRef("user_id")).values("created_at")[:1]
    by_email = blocks.filter(blocked_email=OuterRef("email")).values("created_at")[:1]
    rows = (
        Participant.objects.filter(thread_id=participant.thread_id)
        .exclude(pk=participant.pk)
        .filter(blocks_q_for(participant.user_id))
        .annotate(since=Coalesce(Subquery(by_user), Subquery(by_email)))
        .values_list("pk", "since")
    )
    return dict(rows)


def visible_messages(actor, thread, participant=None):
    """The thread's messages as ``actor`` sees them (a moderator sees everything)."""
    if participant is None:
        participant = get_participant(actor, thread)
    if participant is None:
        if actor.is_moderator:
            return Message.objects.filter(thread=thread)
        return Message.objects.none()
    return Message.objects.seen_by(participant, blocked_since(participant))
