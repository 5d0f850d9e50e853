"""Who takes part in a conversation, before they have a participant row."""

from dataclasses import dataclass

from django.utils.translation import gettext as _

from ..actors import Actor, normalise_email
from ..models import Participant


def user_display_name(user):
    full = user.get_full_name() if hasattr(user, "get_full_name") else ""
    return (full or user.get_username())[:150]


@dataclass(frozen=True)
class Party:
    kind: str
    user: object = None
    group: object = None
    name: str = ""
    email: str = ""

    @classmethod
    def for_user(cls, user):
        return cls(
            kind=Participant.Kind.USER,
            user=user,
            name=user_display_name(user),
            email=normalise_email(getattr(user, "email", "")),
        )

    @classmethod
    def guest(cls, name, email):
        return cls(
            kind=Participant.Kind.GUEST, name=name.strip()[:150], email=normalise_email(email)
        )

    @classmethod
    def team(cls, group):
        return cls(kind=Participant.Kind.GROUP, group=group, name=group.name[:150])

    @classmethod
    def invitee(cls, email, name=""):
        email = normalise_email(email)
        return cls(kind=Participant.Kind.INVITEE, email=email, name=(name or email)[:150])

    @classmethod
    def for_recipient(cls, recipient):
        """A ``User`` or a ``Group`` (team inbox) as found by the listing resolution."""
        from django.contrib.auth.models import Group

        if isinstance(recipient, Group):
            return cls.team(recipient)
        return cls.for_user(recipient)

    @classmethod
    def for_actor(cls, actor, *, name=""):
        if actor.user is not None:
            return cls.for_user(actor.user)
        return cls.guest(name or actor.guest_email, actor.guest_email)

    def same_person(self, other):
        if self.user is not None and other.user is not None:
            return self.user.pk == other.user.pk
        if self.group is not None or other.group is not None:
            return (
                self.group is not None
                and other.group is not None
                and (self.group.pk == other.group.pk)
            )
        return bool(self.email) and self.email == other.email

    def participant_filter(self):
        """Lookup kwargs that find this party's participant row in a thread."""
        if self.kind == Participant.Kind.USER:
            return {"user": self.user}
        if self.kind == Participant.Kind.GROUP:
            return {"group": self.group}
        return {"kind": self.kind, "email": self.email}

    def as_actor(self):
        if self.user is not None:
            return Actor.for_user(self.user)
        return Actor.for_guest(self.email)

    def describe(self):
        return self.name or _("this person")
