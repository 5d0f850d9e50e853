"""The people and objects every security test probes: five threads between users,
guests, a team and an inactive account, each with messages, an attachment, participant
rows, mute tokens and emailed links, and a logged-in test client per kind of actor.

Each thread's first message carries a secret word (``secret-<key>``): a response that
shows it to somebody who may not read the thread is a leak, whatever its status code.
"""

import io
from dataclasses import dataclass, field
from datetime import timedelta

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.test import Client
from django.utils import timezone
from PIL import Image

from sandbox.marketplace.models import ListingPage
from wagtail_messenger.actors import GUEST_SESSION_KEY, Actor
from wagtail_messenger.models import AccessToken, Participant, SuppressedAddress
from wagtail_messenger.services import (
    attachments,
    conversations,
    guests,
    invitations,
    moderation,
    participation,
)
from wagtail_messenger.services.notifications import mute_token
from wagtail_messenger.services.parties import Party
from wagtail_messenger.services.settings import for_site

#: The kinds of actor, in the order the figures list them.
ACTORS = (
    "anonymous",
    "guest",
    "guest_other",
    "buyer",
    "seller",
    "team_member",
    "unrelated",
    "moderator",
    "admin",
    "inactive",
)
#: Threads each actor takes part in (moderators and admins take part in none).
PARTICIPATES = {
    "guest": {"G"},
    "guest_other": {"X"},
    "buyer": {"A"},
    "seller": {"A", "G", "I"},
    "team_member": {"T"},
}
MODERATORS = {"moderator", "admin"}
USERS = {"buyer", "seller", "team_member", "unrelated", "moderator", "admin"}
THREADS = ("A", "G", "T", "X", "I")


def png_bytes():
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (30, 200, 30)).save(out, "PNG")
    return out.getvalue()


def secret(key):
    return f"secret-{key}-7f3a"


@dataclass
class World:
    site: object
    listing: object
    users: dict
    threads: dict
    #: ``messages[thread][i]``: the thread's messages in order; ``senders`` the actor
    #: name who wrote each (``None`` when that person is not one of the actors).
    messages: dict
    senders: dict
    attachments: dict
    participants: dict  # (thread key, actor name or other name) -> Participant
    mute_tokens: dict  # participant pk -> token
    links: dict = field(default_factory=dict)  # "guest", "guest_expired", "invite", ...
    #: Ready data exports: "buyer" (theirs), "guest" (Gail's), "by_moderator" (the
    #: buyer's, produced by the moderator in the admin).
    exports: dict = field(default_factory=dict)
    clients: dict = field(default_factory=dict)
    group: object = None
    _baseline: dict = None

    @property
    def baseline(self):
        """The database as built. Every probe is rolled back, so it is the state each
        probe starts from: snapshotted once, compared with after each probe."""
        if self._baseline is None:
            self._baseline = snapshot()
        return self._baseline

    def can_read(self, actor, thread_key):
        return thread_key in PARTICIPATES.get(actor, set()) or actor in MODERATORS

    def takes_part(self, actor, thread_key):
        return thread_key in PARTICIPATES.get(actor, set())

    def hidden_secrets(self, actor):
        """The secrets ``actor`` must never be shown."""
        if actor in MODERATORS:
            return []
        return [secret(k) for k in THREADS if not self.takes_part(actor, k)]

    def fresh_client(self, actor, **kwargs):
        client = Client(raise_request_exception=False, **kwargs)
        user = self.users.get(actor)
        if actor == "inactive":
            client.force_login(self.users["ivan"])
        elif user is not None:
            client.force_login(user)
        elif actor in ("guest", "guest_other"):
            session = client.session
            session[GUEST_SESSION_KEY] = self.guest_email(actor)
            session.save()
        return client

    @staticmethod
    def guest_email(actor):
        return {"guest": "gail@example.com", "guest_other": "gus@example.com"}[actor]


def upload(name="photo.png"):
    return SimpleUploadedFile(name, png_bytes(), content_type="image/png")


def build_world(site, listing_index, make_user, *, text=None):
    """Build the world. ``text(field)`` gives the value of each user-controlled field
    (the XSS corpus puts its payloads there); by default plain words."""
    text = text or (lambda name: name)
    User = get_user_model()
    users = {
        name: make_user(name, first_name=text("first_name"), last_name=text("last_name"))
        for name in ("buyer", "seller", "team_member", "unrelated", "moderator", "carol")
    }
    users["olga"] = make_user("olga")
    users["ivan"] = make_user("ivan")
    users["admin"] = User.objects.create_superuser("admin", "admin@example.com", "pw")
    moderators, _ = Group.objects.get_or_create(name="Moderators")
    moderators.permissions.add(
        Permission.objects.get(codename="access_admin"),
        Permission.objects.get(codename="moderate_thread"),
    )
    users["moderator"].groups.add(moderators)
    team = Group.objects.create(name=text("team_name")[:150])
    users["team_member"].groups.add(team)

    listing = listing_index.add_child(
        instance=ListingPage(title=text("listing_title"), owner=users["seller"], price="10.00")
    )
    conf = for_site(site=site)

    def start(key, sender, recipient, **kwargs):
        with attachments.stored_upload(upload(text("filename") + ".png"), conf) as stored:
            return conversations.start_thread(
                sender=sender,
                recipient=recipient,
                body=f"{secret(key)} {text('body')}",
                site=site,
                upload=stored,
                **kwargs,
            ).thread

    seller = Party.for_user(users["seller"])
    threads = {
        "A": start("A", Party.for_user(users["buyer"]), seller, listing=listing),
        "G": start(
            "G", Party.guest(text("guest_name"), "gail@example.com"), seller, listing=listing
        ),
        "T": start("T", Party.for_user(users["carol"]), Party.team(team), subject=text("subject")),
        "X": start("X", Party.guest("Gus", "gus@example.com"), Party.for_user(users["olga"])),
        "I": start("I", Party.for_user(users["ivan"]), seller, subject=text("subject")),
    }
    replies = {"A": "seller", "G": "seller", "X": None}
    repliers = {"A": Actor.for_user(users["seller"]), "G": Actor.for_user(users["seller"])}
    repliers["X"] = Actor.for_user(users["olga"])
    # The guests opened the link emailed for their thread: their typed addresses are
    # confirmed (an unconfirmed one is none of the address's conversations).
    Participant.objects.filter(kind=Participant.Kind.GUEST).update(email_verified=True)
    for key, actor in repliers.items():
        conversations.post_message(actor=actor, thread=threads[key], body=f"Reply {text('body')}")
    first = {"A": "buyer", "G": "guest", "T": None, "X": "guest_other", "I": None}
    messages, senders, files, participants = {}, {}, {}, {}
    for key, thread in threads.items():
        rows = list(thread.messages.select_related("sender").order_by("pk"))
        messages[key] = rows
        senders[key] = [first[key]] + ([replies[key]] if key in replies else [])
        files[key] = rows[0].attachment
        for row in Participant.objects.filter(thread=thread).select_related("user"):
            who = None
            if row.user_id is not None:
                who = next(n for n, u in users.items() if u.pk == row.user_id)
            elif row.group_id is not None:
                who = "team"
            else:
                who = {"gail@example.com": "guest", "gus@example.com": "guest_other"}[row.email]
            participants[(key, who)] = row
    # A report and a site-wide block, for the review queue and the list of blocks.
    participation.report_message(
        Actor.for_user(users["seller"]), messages["G"][0].pk, text("report_reason")
    )
    moderation.ban_sender(users["admin"], participants[("X", "guest_other")].pk, text("ban_reason"))
    # A bounced address, for the list of stopped emails.
    SuppressedAddress.objects.create(
        email="gus@example.com",
        reason=SuppressedAddress.Reason.BOUNCED,
        detail=text("bounce_detail"),
    )
    # After its thread started: an account disabled since.
    User.objects.filter(pk=users["ivan"].pk).update(is_active=False)
    world = World(
        site=site,
        listing=listing,
        users=users,
        threads=threads,
        messages=messages,
        senders=senders,
        attachments=files,
        participants=participants,
        mute_tokens={p.pk: mute_token(p) for p in participants.values()},
        group=team,
    )
    world.links = make_links(threads)
    world.exports = make_exports(users)
    return world


def make_exports(users):
    from django.core.files.base import ContentFile

    from wagtail_messenger.models import DataExport

    later = timezone.now() + timedelta(days=7)
    owners = {
        "buyer": {"user": users["buyer"]},
        "guest": {"email": "gail@example.com"},
        "by_moderator": {"user": users["buyer"], "requested_by": users["moderator"]},
    }
    exports = {}
    for name, owner in owners.items():
        export = DataExport(state="ready", ready_at=timezone.now(), expires_at=later, **owner)
        export.file.save("export.zip", ContentFile(b"PK\x05\x06" + b"\0" * 18), save=False)
        export.save()
        exports[name] = export
    return exports


def token_of(url):
    return url.rstrip("/").rsplit("/", 1)[-1]


def make_links(threads):
    """Raw tokens of emailed links: valid and expired, guest and invitation."""
    links = {
        "guest": token_of(guests.issue_link("gail@example.com", thread=threads["G"])),
        "guest_expired": token_of(guests.issue_link("gail@example.com", thread=threads["G"])),
        "invite": token_of(
            invitations.issue_invitation("nobody-yet@example.com", thread=threads["T"])[1]
        ),
        "invite_expired": token_of(
            invitations.issue_invitation("nobody-yet@example.com", thread=threads["T"])[1]
        ),
        "garbage": "not-a-token",
    }
    from wagtail_messenger.models.access import hash_token

    past = timezone.now() - timedelta(minutes=1)
    for name in ("guest_expired", "invite_expired"):
        AccessToken.objects.filter(token_hash=hash_token(links[name])).update(expires_at=past)
    return links


# -- the database diff -------------------------------------------------------------------


def watched_models():
    """Every table a request could change on somebody's behalf: all of the plugin's,
    accounts and group memberships, Wagtail's audit logs. Not watched:
    sessions (a login, a guest link or a flash notice writes one by design) and
    ``last_login`` (set by logging the test clients in, before any probe)."""
    User = get_user_model()
    models = list(apps.get_app_config("wagtail_messenger").get_models())
    from wagtail.models import ModelLogEntry, PageLogEntry

    return [*models, User, User.groups.through, Group, ModelLogEntry, PageLogEntry]


#: Columns left out of the diff, with the reason (SECURITY.md lists them too).
IGNORED_COLUMNS = {
    "last_login": "set when the test clients log in, before any probe",
    "used_at": "an emailed link's first-use stamp (AccessToken.used_at): set once by the "
    "landing GET, grants nothing, read by nobody but the maintenance job",
}


def snapshot(models=None):
    state = {}
    for model in models or watched_models():
        fields = [
            f.attname for f in model._meta.concrete_fields if f.attname not in IGNORED_COLUMNS
        ]
        rows = model.objects.order_by("pk").values_list(*fields)
        state[model._meta.label] = [repr(row) for row in rows]  # JSON columns: dicts
    return state


def diff(before, after):
    """``{table: (rows gone or changed, rows new or changed)}`` for the tables that differ."""
    changes = {}
    for label, rows in before.items():
        old, new = set(rows), set(after[label])
        if old != new:
            changes[label] = (sorted(old - new, key=str)[:3], sorted(new - old, key=str)[:3])
    return changes


class Rollback(Exception):
    pass


def in_savepoint(run):
    """Run ``run()`` and undo everything it wrote, so every probe meets the same world."""
    result = {}
    try:
        with transaction.atomic():
            result["value"] = run()
            raise Rollback
    except Rollback:
        pass
    return result["value"]
