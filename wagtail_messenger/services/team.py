"""The moderation team: private staff notes and assignment of threads.

Like :mod:`.moderation`, every function takes the acting ``user`` first, refuses anyone
without the moderation permission and records a Wagtail audit log entry on the thread
(``wagtail_messenger.note``, ``.assign``, ``.unassign``, ``.team_assign``). Notes are read
only by the moderation panel: no participant page, email or export reads them.
"""

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils.translation import gettext as _
from wagtail.log_actions import log

from ..exceptions import NotAllowed
from ..models import Participant, StaffNote, Thread
from ..models.team import NOTE_MAX_LENGTH
from .moderation import _thread, is_moderator, require_moderator

NOTE = "wagtail_messenger.note"
ASSIGN = "wagtail_messenger.assign"
UNASSIGN = "wagtail_messenger.unassign"
TEAM_ASSIGN = "wagtail_messenger.team_assign"


def add_note(user, thread_id, text):
    require_moderator(user)
    text = (text or "").strip()
    if not text:
        raise NotAllowed(_("Write the note first."))
    if len(text) > NOTE_MAX_LENGTH:
        raise NotAllowed(_("A note has at most %(max)d characters.") % {"max": NOTE_MAX_LENGTH})
    with transaction.atomic():
        thread = _thread(thread_id)
        note = StaffNote.objects.create(thread=thread, author=user, text=text)
        log(thread, NOTE, user=user, data={"note": note.pk})
    return note


def moderators():
    """Active users who may moderate, by name (the choices of "assign to")."""
    from ..viewsets import POLICIES

    return (
        POLICIES[Thread]
        .users_with_permission("moderate")
        .order_by("first_name", "last_name", "username")
    )


def assign(user, thread_id, assignee_id):
    """Give the thread to a moderator (``assignee_id`` the acting user's own id for
    "Assign to me"); ``None`` unassigns it."""
    require_moderator(user)
    assignee = None
    if assignee_id is not None:
        assignee = get_user_model().objects.filter(pk=assignee_id).first()
        if assignee is None or not is_moderator(assignee):
            raise NotAllowed(_("Only a moderator can be assigned a conversation."))
    with transaction.atomic():
        thread = _thread(thread_id)
        if thread.assignee_id == (assignee.pk if assignee else None):
            return thread
        thread.assignee = assignee
        thread.save(update_fields=["assignee"])
        if assignee is None:
            log(thread, UNASSIGN, user=user, data={})
        else:
            log(thread, ASSIGN, user=user, data={"assignee": assignee.pk, "who": _who(assignee)})
    return thread


def _who(user):
    return user.get_full_name() or user.get_username()


def assigned_count(user):
    """Open threads assigned to ``user`` (the dashboard's "assigned to you")."""
    return Thread.objects.filter(assignee=user, status=Thread.Status.OPEN).count()


# -- team inboxes -----------------------------------------------------------------------


def team_members(participant):
    if participant.group_id is None:
        return get_user_model().objects.none()
    return get_user_model().objects.filter(is_active=True, groups=participant.group_id)


def assign_team_member(actor_user, participant, member_id):
    """On a team's row, choose the member of the group who handles the thread (or none).
    Only members of the team may do it, and only members can be chosen."""
    if participant.group_id is None:
        raise NotAllowed(_("Only a team's conversation can be given to a member."))
    members = team_members(participant)
    if not members.filter(pk=actor_user.pk).exists():
        raise NotAllowed(_("Only members of the team can do that."))
    member = None
    if member_id is not None:
        member = members.filter(pk=member_id).first()
        if member is None:
            raise NotAllowed(_("Only a member of the team can be chosen."))
    with transaction.atomic():
        Participant.objects.filter(pk=participant.pk).update(assigned_member=member)
        participant.assigned_member = member
        log(
            participant.thread,
            TEAM_ASSIGN,
            user=actor_user,
            data={"member": member.pk if member else None, "who": _who(member) if member else ""},
        )
    return participant
