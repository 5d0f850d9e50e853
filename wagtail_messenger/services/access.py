"""Read-side access: what an actor may see. Everything here goes through
``Thread.objects.visible_to(actor)`` and ``Participant.objects.for_actor(actor)``."""

from django.db.models import OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils.functional import cached_property

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


def open_thread(actor, thread_id, *, with_listing=False):
    """The thread and its :class:`People` as ``actor`` sees them, or :class:`NotAllowed`:
    the rule of :func:`get_visible_thread` (a live participant, or a moderator) for the
    pages that show the participants anyway. The thread's participants are read with
    the thread joined, and the actor's own row among them says they take part: one
    query where the rule's subquery and the participants took three. With
    ``with_listing`` (the page that links to it) the listing page comes in the same
    query; otherwise it, and the site, load when asked for (settings come by the site's
    id, ``services.settings.for_site_id``)."""
    try:
        thread_id = int(thread_id)
    except (TypeError, ValueError):
        raise NotAllowed()
    related = ("thread", "thread__listing") if with_listing else ("thread",)
    everyone = list(
        Participant.objects.filter(thread_id=thread_id).select_related(*related).order_by("pk")
    )
    # Every thread has participants; one without (made by hand) is read on its own.
    thread = everyone[0].thread if everyone else Thread.objects.filter(pk=thread_id).first()
    if thread is None:
        raise NotAllowed()
    for participant in everyone:  # one thread object for all of them
        Participant.thread.field.set_cached_value(participant, thread)
    people = people_of(actor, thread, everyone)
    if people.me is None and not actor.is_moderator:
        raise NotAllowed()
    return thread, people


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
        email__in=blocks.filter(blocked_email__isnull=False).values("blocked_email"),
    )


class People:
    """A thread's participants as one actor sees them (:func:`people_of`): ``me``, the
    actor's own live row or ``None`` (as :func:`get_participant`); ``others``,
    everyone else in the order they joined; and ``blocked``, looked up on first use,
    ``{participant_id: blocked_at}`` for the others ``me`` blocks (as
    :func:`blocked_since`)."""

    def __init__(self, me, others):
        self.me = me
        self.others = others

    @cached_property
    def blocked(self):
        return blocked_among(self.me, self.others) if self.me is not None else {}


def people_of(actor, thread, everyone=None):
    """The thread's participants read once (one query, plus one for blocks when they
    are asked for): what the thread page needs of them, which :func:`get_participant`,
    :func:`blocked_since` and ``thread.participants`` would take three queries to say."""
    if everyone is None:
        everyone = list(thread.participants.order_by("pk"))
    me = None
    if not actor.is_anonymous:
        live = (p for p in everyone if p.folder != Participant.Folder.DELETED)
        me = next((p for p in live if actor.is_me(p)), None)
    return People(me, [p for p in everyone if me is None or p.pk != me.pk])


def blocked_among(participant, others):
    """:func:`blocked_since` for ``others`` already loaded: one lookup, on the
    blocker's index, of the blocks ``participant``'s user holds against them (none for
    a guest)."""
    if participant.user_id is None:
        return {}
    users = {p.user_id for p in others if p.user_id is not None}
    emails = {p.email for p in others if p.kind == Participant.Kind.GUEST and p.email}
    if not users and not emails:
        return {}
    by_user, by_email = {}, {}
    held = Block.objects.filter(blocker_id=participant.user_id).filter(
        Q(blocked_user_id__in=users) | Q(blocked_email__in=emails)
    )
    for user_id, email, since in held.values_list("blocked_user_id", "blocked_email", "created_at"):
        if user_id is not None:
            by_user.setdefault(user_id, since)
        if email:
            by_email.setdefault(email, since)
    found = {}
    for other in others:
        since = by_user.get(other.user_id) if other.user_id is not None else None
        if since is None and other.kind == Participant.Kind.GUEST:
            since = by_email.get(other.email)
        if since is not None:
            found[other.pk] = since
    return found


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


def visible_messages(actor, thread, participant=None, blocked=None):
    """The thread's messages as ``actor`` sees them (a moderator sees everything).
    ``blocked`` is :func:`blocked_since` of ``participant`` when the caller has it."""
    if participant is None:
        participant = get_participant(actor, thread)
    if participant is None:
        if actor.is_moderator:
            return Message.objects.filter(thread=thread)
        return Message.objects.none()
    if blocked is None:
        blocked = blocked_since(participant)
    return Message.objects.seen_by(participant, blocked)
