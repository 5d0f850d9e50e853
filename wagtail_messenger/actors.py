"""Who is acting: a user, a guest proven by a private link, or a moderator.

An :class:`Actor` is the single input of the visibility rules. Views build one from the
request; tasks and commands build one from ids. ``participant_q()`` is the one place that
says which participant rows are "me".
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q
from django.utils.functional import cached_property

GUEST_SESSION_KEY = "wagtail_messenger_guest_email"
MODERATE_PERMISSION = "wagtail_messenger.moderate_thread"


def normalise_email(email):
    return (email or "").strip().lower()


@dataclass(frozen=True)
class Actor:
    user: object | None = None
    guest_email: str = ""

    @classmethod
    def for_user(cls, user):
        return cls(user=user)

    @cached_property
    def is_moderator(self):
        """Asked only when participation does not already answer (it costs the
        permission queries), so the hot paths of participants never pay for it."""
        user = self.user
        return bool(user is not None and user.is_active and user.has_perm(MODERATE_PERMISSION))

    @cached_property
    def team_ids(self):
        from .teams import team_ids_for

        return team_ids_for(self.user.pk) if self.user is not None else []

    @classmethod
    def for_guest(cls, email):
        return cls(guest_email=normalise_email(email))

    @classmethod
    def from_request(cls, request):
        """The request's actor. The same one is returned while the request's user and
        guest address stay the same, so what it looks up (the team list: a cache round
        trip with Redis) is looked up once per request, not once per view and tag."""
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            actor = cls.for_user(user)
        else:
            session = getattr(request, "session", None)
            email = session.get(GUEST_SESSION_KEY, "") if session is not None else ""
            actor = cls.for_guest(email) if email else cls()
        previous = getattr(request, "_wagtail_messenger_actor", None)
        if previous == actor and previous.user is actor.user:
            return previous
        request._wagtail_messenger_actor = actor
        return actor

    @property
    def is_anonymous(self):
        return self.user is None and not self.guest_email

    @property
    def is_guest(self):
        return self.user is None and bool(self.guest_email)

    def participant_q(self, prefix=""):
        """A ``Q`` matching the participant rows that stand for this actor.

        A user is a participant directly or through a group (a team inbox, from the
        cached :attr:`team_ids`, which lets the database read the user's rows and each
        team's as index ranges); a guest is matched by the email address their private
        link proved, on rows where that address is confirmed (``email_verified``).
        """
        from .models import Participant

        if self.user is not None:
            mine = Q(**{f"{prefix}user_id": self.user.pk})
            if self.team_ids:
                mine |= Q(**{f"{prefix}group_id__in": self.team_ids})
            return mine
        if self.guest_email:
            return Q(
                **{
                    f"{prefix}kind": Participant.Kind.GUEST,
                    f"{prefix}email": self.guest_email,
                    # A row whose address was only typed is not this guest's until its
                    # own emailed link is opened (services.guests.redeem).
                    f"{prefix}email_verified": True,
                }
            )
        return Q(pk__in=[])

    def is_me(self, participant):
        """The Python twin of :meth:`participant_q`, for rows already loaded (the thread
        page reads all of a thread's participants once and finds the actor's among
        them)."""
        from .models import Participant

        if self.user is not None:
            if participant.user_id == self.user.pk:
                return True
            return participant.group_id is not None and participant.group_id in self.team_ids
        if self.guest_email:
            return (
                participant.kind == Participant.Kind.GUEST
                and participant.email == self.guest_email
                and participant.email_verified
            )
        return False
