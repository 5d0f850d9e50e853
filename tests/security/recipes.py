"""How to probe each URL the plugin serves, and who may use it.

:func:`served_urls` lists the URLs from the code itself (``wagtail_messenger.urls``, the
admin viewsets' namespaces, the bulk actions registered on threads and the settings
screen), so a URL added later without a recipe here fails ``test_every_url_has_a_recipe``.

A recipe says, for an actor, a target object and a method, what must happen:
``ALLOW`` (served), ``DENY`` (refused: 403/404/410 or sent to a login page, nothing
written, nothing of other people's threads shown) or ``NOOP`` (served but nothing
written: bulk actions on ids that are not the actor's).
"""

from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from django.urls import URLResolver, get_resolver, reverse

from wagtail_messenger import moderation_admin, viewsets
from wagtail_messenger import urls as plugin_urls
from wagtail_messenger.views.actions import BULK_ACTIONS, THREAD_ACTIONS

from .world import MODERATORS, THREADS, USERS

ALLOW, DENY, NOOP = "allow", "deny", "noop"
#: An id the fuzzer swaps for its bad values in a path (never a real object's id).
SENTINEL = 918273645


def served_urls():
    """Every URL name the plugin serves: front end, admin viewsets, bulk actions, settings."""
    names = {
        f"wagtail_messenger:{p.name}" for p in plugin_urls.urlpatterns if getattr(p, "name", None)
    }
    for resolver in plugin_urls.urlpatterns:  # the JSON API's own namespace
        if isinstance(resolver, URLResolver):
            prefix = f"wagtail_messenger:{resolver.namespace}"
            names |= {f"{prefix}:{p.name}" for p in resolver.url_patterns}
    namespaces = {item.name for item in viewsets.MessengerViewSetGroup.items}

    def walk(patterns, namespace=None):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, pattern.namespace or namespace)
            elif namespace in namespaces:
                yield f"{namespace}:{pattern.name}"

    names |= set(walk(get_resolver().url_patterns))
    names |= {f"bulk:{action.action_type}" for action in moderation_admin.BULK_ACTIONS}
    names.add("settings:wagtail_messenger.messengersettings")
    return names


def refused(response):
    """Refused: a 4xx, or a redirect to a login page or to the admin's home (where
    Wagtail sends an admin user who lacks a permission)."""
    if 400 <= response.status_code < 500:
        return True
    if response.status_code in (301, 302, 303):
        target = urlsplit(response["Location"]).path
        return "/login/" in target or target == "/admin/"
    return False


def served(response):
    return 200 <= response.status_code < 400 and not refused(response)


@dataclass(repr=False)
class Recipe:
    name: str
    methods: tuple = ("GET",)
    #: ``targets(world)``: the objects to aim at (``[None]``: the URL takes none).
    targets: object = lambda w: [None]
    #: ``kwargs(world, target)``: the URL's arguments.
    kwargs: object = lambda w, t: {}
    #: ``data(world, target, method)``: the query (GET) or form (POST).
    data: object = lambda w, t, m: {}
    #: ``expect(world, actor, target, method)`` -> ALLOW, DENY or NOOP.
    expect: object = None
    json: bool = False
    #: POST ``data`` as a JSON body (the JSON API's), not as a form.
    json_body: bool = False
    #: Parameters the fuzzer varies: query names for GET, form names for POST.
    params: dict = field(default_factory=dict)  # method -> names
    path_param: str = ""  # the URL argument the fuzzer varies
    fuzz_actor: str = "seller"
    admin: bool = False

    def __repr__(self):
        return self.name

    def path(self, world, target, path_value=None):
        kwargs = self.kwargs(world, target)
        if path_value is not None:
            kwargs = {**kwargs, self.path_param: SENTINEL}
        if self.name.startswith("bulk:"):
            url = reverse(
                "wagtail_bulk_action", args=["wagtail_messenger", "thread", self.name[5:]]
            )
        elif self.name.startswith("settings:"):
            url = reverse("wagtailsettings:edit", args=["wagtail_messenger", "messengersettings"])
        else:
            url = reverse(self.name, kwargs=kwargs)
        if path_value is not None:
            url = url.replace(str(SENTINEL), quote(path_value, safe=""))
        return url


def participant_only(w, actor, target, method):
    thread = target[0] if isinstance(target, tuple) else target
    return ALLOW if w.takes_part(actor, thread) else DENY


def readers(w, actor, target, method):
    return ALLOW if w.can_read(actor, target) else DENY


def proven(w, actor, target, method):
    return DENY if actor in ("anonymous", "inactive") else ALLOW


def everybody(w, actor, target, method):
    return ALLOW


def nothing_written(w, actor, target, method):
    return NOOP


def moderators(w, actor, target, method):
    return ALLOW if actor in MODERATORS else DENY


def thread_reader(w, actor, target, method):
    if method == "POST":  # the reply form: people taking part, not moderators
        return participant_only(w, actor, target, method)
    return readers(w, actor, target, method)


def compose_rule(w, actor, target, method):
    return DENY if actor == "seller" else ALLOW  # the seller's own listing


def preferences_rule(w, actor, target, method):
    return ALLOW if actor in USERS else DENY


def bulk_rule(w, actor, target, method):
    if actor in ("anonymous", "inactive"):
        return DENY
    return ALLOW if w.takes_part(actor, target[0]) else NOOP


def sender_rule(w, actor, target, method):
    thread, index = target
    return ALLOW if w.senders[thread][index] == actor else DENY


def report_rule(w, actor, target, method):
    thread, index = target
    if not w.takes_part(actor, thread) or w.senders[thread][index] == actor:
        return DENY
    return ALLOW


def own_row(actor, who):
    return who == actor or (actor == "team_member" and who == "team")


def person_rule(w, actor, target, method):
    thread, who = target
    if actor in USERS and w.takes_part(actor, thread) and not own_row(actor, who):
        return ALLOW
    return DENY


def token_rule(valid):
    def rule(w, actor, target, method):
        return ALLOW if target in valid else DENY

    return rule


def mute_rule(w, actor, target, method):
    return DENY if target == "garbage" else ALLOW


def messages_of(w):
    return [(k, i) for k in THREADS for i in range(len(w.messages[k]))]


def thread_id(w, t):
    return {"thread_id": w.threads[t].pk}


def first_ban(w):
    from wagtail_messenger.models import Ban

    return Ban.objects.order_by("pk").first()


def first_suppression(w):
    from wagtail_messenger.models import SuppressedAddress

    return SuppressedAddress.objects.order_by("pk").first()


COMMON_QUERY = ["next"]
ADMIN_QUERY = ["q", "p", "ordering", "status", "site", "listing", "reported", "held"]
ADMIN_QUERY += ["has_attachments", "last_message_at_after", "export"]

RECIPES = [
    Recipe(
        "wagtail_messenger:inbox",
        expect=proven,
        params={"GET": ["view", "q", "after", "before"]},
    ),
    Recipe(
        "wagtail_messenger:thread",
        methods=("GET", "POST"),
        targets=lambda w: list(THREADS),
        kwargs=thread_id,
        data=lambda w, t, m: {"body": "A probe reply", "key": ""} if m == "POST" else {},
        expect=thread_reader,
        json=True,
        params={"GET": ["before"], "POST": ["body", "key", "attachment"]},
        path_param="thread_id",
    ),
    Recipe(
        "wagtail_messenger:poll",
        targets=lambda w: list(THREADS),
        kwargs=thread_id,
        data=lambda w, t, m: {"after": "0"},
        expect=readers,
        params={"GET": ["after"]},
        path_param="thread_id",
    ),
    Recipe(
        "wagtail_messenger:older",
        targets=lambda w: list(THREADS),
        kwargs=thread_id,
        data=lambda w, t, m: {"before": str(w.messages[t][-1].pk)},
        expect=readers,
        params={"GET": ["before"]},
        path_param="thread_id",
    ),
    Recipe(
        "wagtail_messenger:compose",
        methods=("GET", "POST"),
        kwargs=lambda w, t: {"page_id": w.listing.pk},
        data=lambda w, t, m: (
            {"body": "Is it still there?", "name": "Pat", "email": "pat@example.com", "key": ""}
            if m == "POST"
            else {}
        ),
        expect=compose_rule,
        params={"POST": ["body", "name", "email", "key", "attachment", "website"]},
        path_param="page_id",
        fuzz_actor="buyer",
    ),
    Recipe(
        "wagtail_messenger:compose_sent",
        kwargs=lambda w, t: {"page_id": w.listing.pk},
        expect=everybody,
        path_param="page_id",
    ),
    Recipe("wagtail_messenger:unread", expect=everybody, params={"GET": ["threads"]}),
    Recipe(
        "wagtail_messenger:request_link",
        methods=("GET", "POST"),
        data=lambda w, t, m: {"email": "gail@example.com"} if m == "POST" else {},
        expect=everybody,
        params={"POST": ["email"]},
    ),
    Recipe(
        "wagtail_messenger:guest_link",
        targets=lambda w: ["guest", "guest_expired", "garbage"],
        kwargs=lambda w, t: {"token": w.links[t]},
        expect=token_rule({"guest"}),
        path_param="token",
    ),
    Recipe(
        "wagtail_messenger:preferences",
        methods=("GET", "POST"),
        data=lambda w, t, m: (
            {"allow_contact": "on", "email_frequency": "round"} if m == "POST" else {}
        ),
        expect=preferences_rule,
        params={"POST": ["allow_contact", "email_frequency"]},
    ),
    Recipe(
        "wagtail_messenger:bulk_action",
        methods=("POST",),
        targets=lambda w: [(k, a) for k in THREADS for a in BULK_ACTIONS],
        data=lambda w, t, m: {"action": t[1], "thread": [str(w.threads[t[0]].pk)]},
        expect=bulk_rule,
        json=True,
        params={"POST": ["action", "thread", "next"]},
    ),
    Recipe(
        "wagtail_messenger:thread_action",
        methods=("POST",),
        targets=lambda w: [(k, a) for k in THREADS for a in THREAD_ACTIONS],
        kwargs=lambda w, t: {"thread_id": w.threads[t[0]].pk, "action": t[1]},
        expect=participant_only,
        json=True,
        params={"POST": ["next"]},
        path_param="thread_id",
    ),
    Recipe(
        "wagtail_messenger:remove_message",
        methods=("POST",),
        targets=messages_of,
        kwargs=lambda w, t: {"message_id": w.messages[t[0]][t[1]].pk},
        expect=sender_rule,
        json=True,
        params={"POST": ["next"]},
        path_param="message_id",
    ),
    Recipe(
        "wagtail_messenger:report_message",
        methods=("POST",),
        targets=messages_of,
        kwargs=lambda w, t: {"message_id": w.messages[t[0]][t[1]].pk},
        data=lambda w, t, m: {"reason": "Probe report"},
        expect=report_rule,
        json=True,
        params={"POST": ["reason", "next"]},
        path_param="message_id",
        fuzz_actor="buyer",
    ),
    *(
        Recipe(
            f"wagtail_messenger:{name}",
            methods=("POST",),
            targets=lambda w: list(w.participants),
            kwargs=lambda w, t: {"participant_id": w.participants[t].pk},
            expect=person_rule,
            json=True,
            params={"POST": ["next"]},
            path_param="participant_id",
        )
        for name in ("block", "unblock")
    ),
    Recipe(
        "wagtail_messenger:claim",
        methods=("GET", "POST"),
        expect=nothing_written,
    ),
    Recipe(
        "wagtail_messenger:claim_link",
        targets=lambda w: ["invite", "invite_expired", "garbage"],
        kwargs=lambda w, t: {"token": w.links[t]},
        expect=token_rule({"invite"}),
        path_param="token",
    ),
    Recipe(
        "wagtail_messenger:mute",
        methods=("GET", "POST"),
        targets=lambda w: [*w.mute_tokens.values(), "garbage"],
        kwargs=lambda w, t: {"token": t},
        data=lambda w, t, m: {"List-Unsubscribe": "One-Click"} if m == "POST" else {},
        expect=mute_rule,
        path_param="token",
    ),
    Recipe(
        "wagtail_messenger:attachment",
        targets=lambda w: list(THREADS),
        kwargs=lambda w, t: {"attachment_id": w.attachments[t].pk},
        expect=readers,
        path_param="attachment_id",
    ),
]


def export_rule(w, actor, target, method):
    """Only the person an export is of downloads it; one a moderator produced, only
    that moderator."""
    owners = {("buyer", "buyer"), ("guest", "guest"), ("by_moderator", "moderator")}
    return ALLOW if (target, actor) in owners else DENY


def export_request_rule(w, actor, target, method):
    """Anybody proven may ask for their data, once an hour: the buyer and Gail asked
    within the hour (the world's exports), so theirs is refused (429)."""
    if actor in w.exports:
        return DENY
    return proven(w, actor, target, method)


def guests_only(w, actor, target, method):
    """A guest's erase request: accounts are erased by deleting the account."""
    return ALLOW if actor in ("guest", "guest_other") else DENY


RECIPES += [
    Recipe("wagtail_messenger:your_data", expect=proven),
    Recipe("wagtail_messenger:request_data_export", methods=("POST",), expect=export_request_rule),
    Recipe(
        "wagtail_messenger:data_export",
        targets=lambda w: list(w.exports),
        kwargs=lambda w, t: {"export_id": w.exports[t].pk},
        expect=export_rule,
        path_param="export_id",
    ),
    Recipe("wagtail_messenger:erase_my_data", methods=("GET", "POST"), expect=guests_only),
    Recipe(
        "wagtail_messenger:assign_team_member",
        methods=("POST",),
        targets=lambda w: list(THREADS),
        kwargs=thread_id,
        data=lambda w, t, m: {"member": ""},
        expect=lambda w, actor, t, m: ALLOW if (actor, t) == ("team_member", "T") else DENY,
        params={"POST": ["member"]},
        path_param="thread_id",
    ),
]

# -- the JSON API (wagtail_messenger/api.py) ---------------------------------------------

API = "wagtail_messenger:wagtail_messenger_api"


def api_guest_rule(w, actor, target, method):
    """A valid link lets in a visitor or its own guest, never a user of another address."""
    if target != "guest":
        return DENY
    return DENY if actor in w.users and actor != "inactive" else ALLOW


def api_participant_rule(w, actor, target, method):
    return participant_only(w, actor, target[0] if isinstance(target, tuple) else target, method)


RECIPES += [
    Recipe(f"{API}:api-root", expect=lambda w, a, t, m: DENY),  # a 404 naming the docs
    Recipe(f"{API}:openapi-json", expect=everybody),
    Recipe(f"{API}:openapi-view", expect=everybody),
    Recipe(f"{API}:me", expect=everybody),
    Recipe(
        f"{API}:inbox",
        expect=proven,
        params={"GET": ["folder", "unread", "flagged", "q", "cursor"]},
    ),
    Recipe(f"{API}:unread", expect=proven),
    Recipe(
        f"{API}:thread",
        targets=lambda w: list(THREADS),
        kwargs=thread_id,
        expect=readers,
        params={"GET": ["before"]},
        path_param="thread_id",
    ),
    Recipe(
        f"{API}:poll",
        targets=lambda w: list(THREADS),
        kwargs=thread_id,
        data=lambda w, t, m: {"after": "0"},
        expect=readers,
        params={"GET": ["after"]},
        path_param="thread_id",
    ),
    Recipe(
        f"{API}:post_message",
        methods=("POST",),
        targets=lambda w: list(THREADS),
        kwargs=thread_id,
        data=lambda w, t, m: {"body": "Through the API", "key": ""},
        expect=participant_only,
        params={"POST": ["body", "key", "attachment"]},
        path_param="thread_id",
    ),
    Recipe(
        f"{API}:mark_read",
        methods=("POST",),
        targets=lambda w: list(THREADS),
        kwargs=thread_id,
        data=lambda w, t, m: {"seen": 1},
        json_body=True,
        expect=participant_only,
        path_param="thread_id",
    ),
    Recipe(
        f"{API}:thread_action",
        methods=("POST",),
        targets=lambda w: [(k, a) for k in THREADS for a in THREAD_ACTIONS],
        kwargs=lambda w, t: {"thread_id": w.threads[t[0]].pk, "action": t[1]},
        expect=api_participant_rule,
        path_param="thread_id",
    ),
    Recipe(
        f"{API}:compose_info",
        kwargs=lambda w, t: {"page_id": w.listing.pk},
        expect=everybody,
        path_param="page_id",
    ),
    Recipe(
        f"{API}:compose",
        methods=("POST",),
        kwargs=lambda w, t: {"page_id": w.listing.pk},
        data=lambda w, t, m: {
            "body": "Is it still there?",
            "name": "Pat",
            "email": "pat@example.com",
            "key": "",
        },
        expect=compose_rule,
        params={"POST": ["body", "name", "email", "key", "attachment", "wm_started"]},
        path_param="page_id",
        fuzz_actor="buyer",
    ),
    Recipe(
        f"{API}:bulk_action",
        methods=("POST",),
        targets=lambda w: [(k, a) for k in THREADS for a in BULK_ACTIONS],
        data=lambda w, t, m: {"action": t[1], "threads": [w.threads[t[0]].pk]},
        json_body=True,
        expect=bulk_rule,
    ),
    Recipe(
        f"{API}:remove_message",
        methods=("POST",),
        targets=messages_of,
        kwargs=lambda w, t: {"message_id": w.messages[t[0]][t[1]].pk},
        expect=sender_rule,
        path_param="message_id",
    ),
    Recipe(
        f"{API}:report_message",
        methods=("POST",),
        targets=messages_of,
        kwargs=lambda w, t: {"message_id": w.messages[t[0]][t[1]].pk},
        data=lambda w, t, m: {"reason": "Probe report"},
        json_body=True,
        expect=report_rule,
        path_param="message_id",
        fuzz_actor="buyer",
    ),
    Recipe(
        f"{API}:person_action",
        methods=("POST",),
        targets=lambda w: [(p, a) for p in w.participants for a in ("block", "unblock")],
        kwargs=lambda w, t: {"participant_id": w.participants[t[0]].pk, "action": t[1]},
        expect=lambda w, actor, t, m: person_rule(w, actor, t[0], m),
        path_param="participant_id",
    ),
    Recipe(f"{API}:get_preferences", expect=preferences_rule),
    Recipe(
        f"{API}:set_preferences",
        methods=("POST",),
        data=lambda w, t, m: {"allow_contact": True, "email_frequency": "round"},
        json_body=True,
        expect=preferences_rule,
    ),
    Recipe(
        f"{API}:request_link",
        methods=("POST",),
        data=lambda w, t, m: {"email": "gail@example.com"},
        json_body=True,
        expect=everybody,
        fuzz_actor="anonymous",
    ),
    Recipe(
        f"{API}:guest_session",
        methods=("POST",),
        targets=lambda w: ["guest", "guest_expired", "garbage"],
        data=lambda w, t, m: {"token": w.links[t]},
        json_body=True,
        expect=api_guest_rule,
        fuzz_actor="anonymous",
    ),
]

ADMIN = dict(expect=moderators, admin=True, fuzz_actor="admin")
for _name in ("messenger_threads", "messenger_queue", "messenger_bans", "messenger_suppressed"):
    # The page and its table (``index_results``) are one view: the filters are fuzzed
    # through the table, which costs a third of the whole page.
    _query = ADMIN_QUERY if _name == "messenger_threads" else ["q", "p", "ordering"]
    RECIPES.append(Recipe(f"{_name}:index", params={"GET": ["q", "p", "ordering"]}, **ADMIN))
    RECIPES.append(Recipe(f"{_name}:index_results", params={"GET": _query}, **ADMIN))
for _view in ("inspect", "history", "history_results"):
    RECIPES.append(
        Recipe(
            f"messenger_threads:{_view}",
            targets=lambda w: list(THREADS),
            kwargs=lambda w, t: {"pk": w.threads[t].pk},
            path_param="pk",
            **ADMIN,
        )
    )
RECIPES += [
    Recipe(
        "messenger_threads:delete",
        methods=("GET", "POST"),
        targets=lambda w: list(THREADS),
        kwargs=lambda w, t: {"pk": w.threads[t].pk},
        path_param="pk",
        **ADMIN,
    ),
    Recipe(
        "messenger_threads:action",
        methods=("POST",),
        targets=lambda w: [(k, a) for k in THREADS for a in ("close", "spam", "hide", "ban")],
        kwargs=lambda w, t: {"pk": w.threads[t[0]].pk},
        data=lambda w, t, m: {
            "action": t[1],
            "message": str(w.messages[t[0]][0].pk),
            "participant": str(w.messages[t[0]][0].sender_id),
            "reason": "Probe",
        },
        params={"POST": ["action", "message", "participant", "reason", "next"]},
        path_param="pk",
        **ADMIN,
    ),
    Recipe(
        "messenger_privacy:index",
        methods=("GET", "POST"),
        data=lambda w, t, m: {"person": "buyer"} if m == "POST" else {},
        params={"POST": ["person"]},
        **ADMIN,
    ),
    Recipe(
        "messenger_privacy:download",
        targets=lambda w: list(w.exports),
        kwargs=lambda w, t: {"pk": w.exports[t].pk},
        expect=lambda w, actor, t, m: (
            ALLOW if (t, actor) == ("by_moderator", "moderator") else DENY
        ),
        admin=True,
        fuzz_actor="moderator",
        path_param="pk",
    ),
    Recipe(
        "messenger_bans:delete",
        methods=("GET", "POST"),
        kwargs=lambda w, t: {"pk": first_ban(w).pk},
        path_param="pk",
        **ADMIN,
    ),
    Recipe(
        "messenger_suppressed:delete",
        methods=("GET", "POST"),
        kwargs=lambda w, t: {"pk": first_suppression(w).pk},
        path_param="pk",
        **ADMIN,
    ),
    Recipe(
        "settings:wagtail_messenger.messengersettings",
        expect=lambda w, actor, t, m: ALLOW if actor == "admin" else DENY,
        admin=True,
        fuzz_actor="admin",
    ),
]
for _action in moderation_admin.BULK_ACTIONS:
    RECIPES.append(
        Recipe(
            f"bulk:{_action.action_type}",
            methods=("GET", "POST"),
            targets=lambda w: list(THREADS),
            data=lambda w, t, m: {"id": str(w.threads[t].pk)},
            params={"GET": ["id", "next"]},
            **ADMIN,
        )
    )


# Marking read: a POST from the thread page's script (GET marks nothing read).
RECIPES.append(
    Recipe(
        "wagtail_messenger:mark_read",
        methods=("POST",),
        targets=lambda w: list(THREADS),
        kwargs=thread_id,
        data=lambda w, t, m: {"seen": "1"},
        expect=participant_only,
        json=True,
        params={"POST": ["seen"]},
        path_param="thread_id",
    )
)

BY_NAME = {recipe.name: recipe for recipe in RECIPES}
