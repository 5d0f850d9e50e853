"""The headless JSON API, version 1 (docs/api.md), with django-ninja: everything the pages
do, as data, under ``<messenger URLs>/api/v1/`` with its OpenAPI schema at
``api/v1/openapi.json`` and the interactive docs at ``api/v1/docs``.

The same rules as the pages, because it calls the same code: the visibility rule
(``services.access``), the writers (``services.conversations``, ``participation``),
the rate limits and the spam filter; the forms of the pages validate what is posted, so
the limits and the messages people read are the same. Who is asking:

- the **session** (a same-site front end): a logged-in user, or a guest whose private
  link was exchanged (``POST guest/session``); every ``POST`` needs the CSRF token
  (the ``csrftoken`` cookie in an ``X-CSRFToken`` header), as a form would;
- a **token** (a separate front end): ``Authorization: Bearer <token>``, made by
  ``manage.py messenger_api_token <username>`` (``models.ApiToken``: stored hashed,
  expiring); no cookie, so no CSRF.

Errors are ``{"detail": "<a sentence>"}`` with 400, 401, 403, 404 or 429 (validation
errors: ninja's ``{"detail": [...]}`` with 422); nothing answers 500 by design.
"""

from datetime import datetime, timedelta
from typing import Annotated, Literal

from django.apps import apps as django_apps
from django.core.cache import caches
from django.core.exceptions import ObjectDoesNotExist
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from ninja import Field, File, Form, NinjaAPI, Path, Query, Schema, UploadedFile
from ninja.errors import AuthenticationError, HttpError
from ninja.openapi.docs import Swagger
from ninja.security import HttpBearer, SessionAuth
from ninja.throttling import SimpleRateThrottle
from ninja.utils import check_csrf
from pydantic import ConfigDict

try:
    from ninja import Status
except ImportError:  # django-ninja before 1.7 takes a (status, body) tuple

    def Status(status_code, body):  # noqa: N802
        return status_code, body


from . import selectors
from .actors import GUEST_SESSION_KEY, Actor, normalise_email
from .conf import get_setting
from .exceptions import InvalidLink, MessengerError, NotAllowed, RateLimited
from .forms import ComposeForm, ReplyForm, form_stamp, new_key, plain_text
from .models import ApiToken, Message, Participant
from .models.access import hash_token
from .services import (
    access,
    guests,
    lifecycle,
    listings,
    participation,
    ratelimit,
)
from .services.settings import for_site_id

Folder = Participant.Folder


# -- who is asking -----------------------------------------------------------------------


class SessionActor(SessionAuth):
    """The session's person: a user, or a guest whose private link proved their
    address. ``POST`` requests need the CSRF token (``SessionAuth``)."""

    def authenticate(self, request, key):
        actor = Actor.from_request(request)
        return None if actor.is_anonymous else actor


class TokenActor(HttpBearer):
    """``Authorization: Bearer <token>``: the active user of an unexpired ``ApiToken``
    (``messenger_api_token``), or of a Wagtail API token (Wagtail 8: Account → API
    tokens, not revoked) made less than ``API_TOKEN_MAX_AGE`` ago."""

    def authenticate(self, request, token):
        now = timezone.now()
        row = (
            ApiToken.objects.select_related("user")
            .filter(key_hash=hash_token(token), expires_at__gt=now)
            .first()
        )
        if row is None:
            row = self.wagtail_token(token, now)
        # is_active may be a class attribute of a custom user model: checked in Python.
        if row is None or not row.user.is_active:
            return None
        if row.last_used_at is None or row.last_used_at < now - USE_GRANULARITY:
            type(row).objects.filter(pk=row.pk).update(last_used_at=now)
        request.user = row.user  # what the services and the rate limits look at
        return Actor.for_user(row.user)

    @staticmethod
    def wagtail_token(token, now):
        try:
            from wagtail.models import APIToken
        except ImportError:  # Wagtail 7.4 has none
            return None
        if not APIToken.validate_token_format(token):
            return None
        return (
            APIToken.objects.select_related("user")
            .filter(
                key_hash__in=APIToken.candidate_key_hashes(token),
                revoked_at__isnull=True,
                created__gt=now - get_setting("API_TOKEN_MAX_AGE"),
            )
            .first()
        )


USE_GRANULARITY = timedelta(minutes=5)
AUTH = [TokenActor(), SessionActor()]


class PersonThrottle(SimpleRateThrottle):
    """At most ``API_RATE`` requests per person (a user, a guest's proven address), or
    ``API_ANONYMOUS_RATE`` per client address for visitors (``ratelimit.client_ip``,
    which knows the trusted proxies), counted in the rate-limit cache: over it, 429."""

    scope = "wagtail_messenger_api"

    def __init__(self):
        super().__init__(rate="1/s")  # replaced per request by allow_request

    def allow_request(self, request):
        actor = getattr(request, "auth", None)
        self.rate = get_setting("API_RATE" if actor is not None else "API_ANONYMOUS_RATE")
        if not self.rate:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        self.cache = caches[get_setting("RATELIMIT_CACHE")]
        return super().allow_request(request)

    def get_cache_key(self, request):
        actor = getattr(request, "auth", None)
        if actor is not None and actor.user is not None:
            ident = f"user:{actor.user.pk}"
        elif actor is not None:
            ident = "guest:" + hash_token(actor.guest_email)
        else:
            ident = "ip:" + ratelimit.client_ip(request)
        return f"wagtail_messenger:api:{ident}"


class MessengerAPI(NinjaAPI):
    """Its URLs sit inside the plugin's namespace (``wagtail_messenger:``)."""

    def get_root_path(self, path_params):
        return reverse(f"wagtail_messenger:{self.urls_namespace}:api-root", kwargs=path_params)


class Docs(Swagger):
    def get_openapi_url(self, api, path_params):
        return reverse(f"wagtail_messenger:{api.urls_namespace}:openapi-json", kwargs=path_params)


api = MessengerAPI(
    title="wagtail-messenger",
    version="1",
    description="Conversations between buyers and sellers: see docs/api.md.",
    urls_namespace="wagtail_messenger_api",
    # The interactive docs only with "ninja" in INSTALLED_APPS: it then serves Swagger
    # UI from its own static files; otherwise the page would load it from a CDN.
    docs=Docs(),
    docs_url="/docs" if django_apps.is_installed("ninja") else None,
    auth=AUTH,
    throttle=[PersonThrottle()],
)


def actor_of(request):
    return request.auth


def participant_of(actor, thread_id):
    """The thread and the actor's own live row in it, or 404 (another person's thread
    looks the same as no thread). Moderators who take no part read, but do not act."""
    try:
        thread, people = access.open_thread(actor, thread_id, with_listing=True)
    except NotAllowed:
        raise HttpError(404, _("Not found.")) from None
    return thread, people


def own_row(request, thread_id):
    """``(actor, thread, their row)`` for what only participants do, or 404."""
    actor = actor_of(request)
    thread, people = participant_of(actor, thread_id)
    if people.me is None:
        raise HttpError(404, _("Not found."))
    return actor, thread, people.me


def refuse(error, status=400):
    raise HttpError(status, str(error))


# -- schemas -----------------------------------------------------------------------------


class Input(Schema):
    """A JSON body: the types as declared (no ``0`` for ``false``), nothing unknown."""

    model_config = ConfigDict(strict=True, extra="forbid")


class Error(Schema):
    detail: str


class Invalid(Schema):
    """ninja's answer to parameters that do not fit the schema."""

    detail: list[dict]


#: An id in a path: a positive number a database column holds on every backend.
Id = Annotated[int, Path(ge=1, le=2**53)]

#: What any operation may answer besides its success: a sentence, or ninja's list.
ERRORS = {
    **dict.fromkeys((400, 401, 403, 404, 410, 429), Error),
    422: Invalid,
}


class Person(Schema):
    id: int = Field(description="The participant's id in this thread.")
    name: str
    kind: Literal["user", "guest", "group", "invitee"]
    email_unconfirmed: bool = Field(description="A guest whose typed address nobody proved yet.")


class AttachmentOut(Schema):
    id: int
    name: str
    size: int
    expired: bool
    url: str | None = Field(description="The access-checked download; none once expired.")


class MessageOut(Schema):
    id: int
    seq: int | None = Field(description="Delivery sequence number: the poll's cursor.")
    kind: Literal["message", "note"]
    state: Literal["visible", "held", "hidden", "removed"]
    text: str = Field(description="The text; empty when hidden or removed.")
    note: str = Field(description='A listing note\'s text ("marked as sold").')
    sender: int | None = Field(description="The sender's participant id.")
    sender_name: str
    mine: bool
    created_at: datetime
    contains_contact_details: bool
    attachment: AttachmentOut | None


class ThreadRow(Schema):
    id: int
    title: str
    unread: int
    flagged: bool
    muted: bool
    blocked: bool = Field(description="You block the other person.")
    last_message_at: datetime
    preview: str
    listing_gone: bool
    people: list[Person]


class InboxOut(Schema):
    results: list[ThreadRow]
    next: str | None = Field(description="Pass as ?cursor= for the next page.")


class Listing(Schema):
    title: str
    url: str
    summary: str = Field(description="The page's messenger_summary(), e.g. its price.")


class ThreadOut(Schema):
    id: int
    title: str
    status: str
    can_reply: bool
    folder: str | None
    flagged: bool
    muted: bool
    unread: int
    listing: Listing | None
    people: list[Person]
    messages: list[MessageOut]
    has_older: bool
    cursor: int = Field(description="The poll's first ?after=.")
    key: str = Field(description="A fresh idempotency key for the next message.")


class PollOut(Schema):
    messages: list[MessageOut]
    cursor: int


class PostedOut(Schema):
    message: MessageOut
    held: bool
    notice: str
    key: str


class ReadIn(Input):
    seen: int = Field(ge=0, le=2**53, strict=True, description="The highest number shown.")


class UnreadOut(Schema):
    unread: int


class ActionOut(Schema):
    ok: bool
    message: str


class ComposeInfo(Schema):
    can_write: bool
    problem: str
    login_required: bool
    ask_identity: bool = Field(description="A visitor without a session gives name and email.")
    recipient: str
    conversation: int | None = Field(
        description="The open thread you already have about this listing, which a new "
        "message joins (the compose page opens it instead of a blank form)."
    )
    stamp: str = Field(description="Send back as wm_started (the form's time trap).")
    key: str


class Started(Schema):
    thread: int | None = Field(description="None for a visitor: their link is emailed.")
    held: bool
    notice: str


class LinkIn(Input):
    token: str = Field(max_length=200)


class GuestSession(Schema):
    thread: int | None
    email: str


# -- messages as data --------------------------------------------------------------------


def message_out(message, mine_id):
    if message.kind == Message.Kind.NOTE:
        return {
            "id": message.pk,
            "seq": message.seq,
            "kind": "note",
            "state": message.state,
            "text": "",
            "note": str(lifecycle.note_text(message)),
            "sender": None,
            "sender_name": "",
            "mine": False,
            "created_at": message.created_at,
            "contains_contact_details": False,
            "attachment": None,
        }
    shown = message.state in (Message.State.VISIBLE, Message.State.HELD)
    try:
        file = message.attachment if shown else None
    except ObjectDoesNotExist:
        file = None
    return {
        "id": message.pk,
        "seq": message.seq,
        "kind": "message",
        "state": message.state,
        "text": message.body if shown else "",
        "note": "",
        "sender": message.sender_id,
        "sender_name": str(message.sender.display_name),
        "mine": mine_id is not None and message.sender_id == mine_id,
        "created_at": message.created_at,
        "contains_contact_details": bool(message.contains_contact_details),
        "attachment": None
        if file is None
        else {
            "id": file.pk,
            "name": file.name,
            "size": file.size,
            "expired": file.is_expired,
            "url": None
            if file.is_expired
            else reverse("wagtail_messenger:attachment", args=[file.pk]),
        },
    }


def person_out(person):
    return {
        "id": person.pk,
        "name": str(person.display_name),
        "kind": person.kind,
        "email_unconfirmed": bool(person.email_unconfirmed),
    }


def row_out(row, length):
    reached = row.message_reached
    message = row.last_message
    preview = ""
    if reached and message.state in (Message.State.VISIBLE, Message.State.HELD):
        preview = Truncator(message.body).chars(length)
    return {
        "id": row.thread_id,
        "title": row.title,
        "unread": row.unread_count,
        "flagged": row.flagged,
        "muted": row.muted,
        "blocked": row.peer_blocked,
        "last_message_at": row.last_message_at,
        "preview": preview,
        "listing_gone": row.listing_is_gone,
        "people": [person_out(p) for p in row.everyone if p.pk != row.pk],
    }


# -- who am I ----------------------------------------------------------------------------


class MeOut(Schema):
    kind: Literal["user", "guest", "anonymous"]
    name: str
    unread: int


@api.get("/me", response={200: MeOut, **ERRORS}, auth=None, tags=["session"])
def me(request):
    """Who the session (or the token) is, and the unread total. Also sets the
    ``csrftoken`` cookie that a same-site front end sends back in ``X-CSRFToken``."""
    get_token(request)
    actor = _optional_actor(request)
    if actor is None or actor.is_anonymous:
        return {"kind": "anonymous", "name": "", "unread": 0}
    unread = selectors.unread_total(actor)
    if actor.user is not None:
        name = actor.user.get_full_name() or actor.user.get_username()
        return {"kind": "user", "name": name, "unread": unread}
    from .views.compose import guest_name

    return {"kind": "guest", "name": guest_name(actor), "unread": unread}


def _optional_actor(request):
    """For the endpoints open to visitors: a token's user (``None`` for a bad token),
    else the session's person."""
    if request.headers.get("Authorization", "").startswith("Bearer "):
        return TokenActor()(request)
    return Actor.from_request(request)


# -- the inbox ---------------------------------------------------------------------------


@api.get("/inbox", response={200: InboxOut, **ERRORS}, tags=["inbox"])
def inbox(
    request,
    folder: Literal["inbox", "archive", "trash"] = "inbox",
    unread: bool = False,
    flagged: bool = False,
    q: str = Query("", max_length=100, description="Search titles, names and texts."),
    cursor: str | None = Query(None, max_length=60),
):
    """The conversations of one folder, newest activity first, a page at a time."""
    from .views.inbox import decode_cursor, encode_cursor

    after = decode_cursor(cursor) if cursor else None
    if cursor and after is None:
        refuse(_("That page cursor is not one this API gave."))
    page = selectors.inbox_page(
        actor_of(request),
        Folder(folder),
        flagged=flagged,
        unread=unread,
        query=plain_text(q, 100),
        after=after,
        size=get_setting("THREADS_PER_PAGE"),
    )
    length = get_setting("PREVIEW_LENGTH")
    return {
        "results": [row_out(row, length) for row in page.rows],
        "next": encode_cursor(page.rows[-1]) if page.has_more and page.rows else None,
    }


@api.get("/unread", response={200: UnreadOut, **ERRORS}, tags=["inbox"])
def unread(request):
    """Unread messages over the inbox and archive (the header's badge; 99 means 99+)."""
    return {"unread": selectors.unread_total(actor_of(request))}


# -- one conversation --------------------------------------------------------------------


def _thread_state(thread, people, conf):
    me = people.me
    return {
        "can_reply": me is not None and thread.is_open and conf.enabled,
        "folder": me.folder if me is not None else None,
        "flagged": bool(me and me.flagged),
        "muted": bool(me and me.muted),
        "unread": me.unread_count if me is not None else 0,
    }


@api.get("/threads/{thread_id}", response={200: ThreadOut, **ERRORS}, tags=["threads"])
def thread(request, thread_id: Id, before: int | None = Query(None, ge=1, le=2**53)):
    """A page of messages (the latest, or those before ``before``, a message id) with
    the people and the reader's own state. Reading marks nothing: ``POST .../read``."""
    actor = actor_of(request)
    thread, people = participant_of(actor, thread_id)
    page = selectors.message_page(actor, thread, people=people, before_id=before)
    mine = people.me.pk if people.me is not None else None
    conf = for_site_id(thread.site_id)
    listing = None
    if thread.listing_id and thread.listing is not None and thread.listing.live:
        listing = {
            "title": thread.listing_title,
            "url": thread.listing.get_url(request) or "",
            "summary": thread.listing_summary,
        }
    return {
        "id": thread.pk,
        "title": thread.title,
        "status": thread.status,
        **_thread_state(thread, people, conf),
        "listing": listing,
        "people": [person_out(p) for p in people.others],
        "messages": [message_out(m, mine) for m in page.messages],
        "has_older": page.has_older,
        "cursor": page.newest_seq,
        "key": new_key(),
    }


@api.get(
    "/threads/{thread_id}/poll",
    response={200: PollOut, **ERRORS},
    tags=["threads"],
)
def poll(request, thread_id: Id, after: int = Query(0, ge=0, le=2**53)):
    """The messages delivered after the cursor ``after`` and the next cursor: nothing
    committed meanwhile is skipped (one read). Reading marks nothing. Nothing new is
    answered from one indexed query, as the page's poll does."""
    from .views.threads import poll_state

    actor = actor_of(request)
    state = poll_state(actor, thread_id, after)
    if state is None:
        raise HttpError(404, _("Not found."))
    if not state:
        return {"messages": [], "cursor": after}
    thread, people = participant_of(actor, thread_id)
    me = people.me
    rows, cursor = selectors.messages_after(
        actor, thread, after, participant=me, blocked=people.blocked if me else None
    )
    mine = me.pk if me is not None else None
    return {"messages": [message_out(m, mine) for m in rows], "cursor": max(cursor, after)}


@api.post(
    "/threads/{thread_id}/messages",
    response={201: PostedOut, **ERRORS},
    tags=["threads"],
)
def post_message(
    request,
    thread_id: Id,
    body: Form[str],
    key: Form[str] = "",
    attachment: File[UploadedFile] = None,
):
    """Post a message, as ``multipart/form-data`` (or urlencoded): ``body``, ``key``
    (32 hex characters: the same key twice posts once) and at most one ``attachment``,
    checked as on the page."""
    actor = actor_of(request)
    thread, people = participant_of(actor, thread_id)
    me = people.me
    conf = for_site_id(thread.site_id)
    if me is None or not thread.is_open or not conf.enabled:
        refuse(_("You cannot reply in this conversation."), 403)
    form = ReplyForm(request.POST, request.FILES, conf=conf)
    if not form.is_valid():
        refuse(_form_problem(form))
    from .views.threads import send_reply

    try:
        posted = send_reply(request, actor, thread, me, conf, form.cleaned_data)
    except RateLimited as error:
        refuse(error, 429)
    except MessengerError as error:
        refuse(error)
    message = Message.objects.select_related("sender", "attachment").get(pk=posted.message.pk)
    return Status(201, _posted(message, me.pk, conf))


def _posted(message, mine, conf):
    from .services.spam import held_notice

    held = message.state == Message.State.HELD
    return {
        "message": message_out(message, mine),
        "held": held,
        "notice": str(held_notice(message, conf)) if held else "",
        "key": new_key(),
    }


def _form_problem(form):
    """The form's errors, as one sentence per field, in one string."""
    return " ".join(str(error) for errors in form.errors.values() for error in errors)


@api.post(
    "/threads/{thread_id}/read",
    response={200: UnreadOut, **ERRORS},
    tags=["threads"],
)
def mark_read(request, thread_id: Id, payload: ReadIn):
    """The reader has seen the thread up to ``seen`` (a sequence number a page showed)."""
    actor, thread, me = own_row(request, thread_id)
    participation.mark_read(actor, thread.pk, seen_seq=payload.seen)
    unread = Participant.objects.filter(pk=me.pk).values_list("unread_count", flat=True)
    return {"unread": unread.first() or 0}


ThreadAction = Literal[
    "flag", "unflag", "mute", "unmute", "read", "unread", "archive", "unarchive", "trash",
    "restore",
]  # fmt: skip


@api.post(
    "/threads/{thread_id}/actions/{action}",
    response={200: ActionOut, **ERRORS},
    tags=["threads"],
)
def thread_action(request, thread_id: Id, action: ThreadAction):
    """What the buttons of the thread page do."""
    from .views.actions import THREAD_ACTIONS

    actor, thread, _me = own_row(request, thread_id)
    spec = THREAD_ACTIONS[action]
    try:
        spec.run(actor, thread.pk)
    except MessengerError as error:
        refuse(error)
    return {"ok": True, "message": str(spec.done)}


class BulkIn(Input):
    action: Literal["read", "archive", "unarchive", "trash", "restore"]
    threads: list[Annotated[int, Field(ge=1, le=2**53)]] = Field(min_length=1, max_length=500)


class BulkOut(Schema):
    ok: bool
    message: str
    count: int = Field(description="Conversations changed (others' ids are left alone).")


@api.post("/inbox/bulk", response={200: BulkOut, **ERRORS}, tags=["inbox"])
def bulk_action(request, payload: BulkIn):
    """The inbox's bulk actions on many conversations at once."""
    from .views.actions import BULK_ACTIONS

    run, notice = BULK_ACTIONS[payload.action]
    try:
        count = run(actor_of(request), payload.threads)
    except MessengerError as error:
        refuse(error)
    return {"ok": True, "message": notice(count) % {"count": count}, "count": count}


# -- messages and people -------------------------------------------------------------------


class ReportIn(Input):
    reason: str = Field("", max_length=500)


def _message_action(request, message_id, run, done):
    from .views.actions import _visible_message

    actor = actor_of(request)
    message = _visible_message(actor, message_id)
    if message is None:
        raise HttpError(404, _("Not found."))
    try:
        run(actor, message)
    except RateLimited as error:
        refuse(error, 429)
    except MessengerError as error:
        refuse(error, 403)
    return {"ok": True, "message": str(done)}


@api.post("/messages/{message_id}/remove", response={200: ActionOut, **ERRORS}, tags=["threads"])
def remove_message(request, message_id: Id):
    """Remove one's own message (when the site lets authors): the others see "message
    removed"."""
    return _message_action(
        request,
        message_id,
        lambda actor, message: participation.remove_message(actor, message.pk),
        _("Your message was removed."),
    )


@api.post("/messages/{message_id}/report", response={200: ActionOut, **ERRORS}, tags=["threads"])
def report_message(request, message_id: Id, payload: ReportIn):
    """Report another person's message to the moderators, with a reason."""

    def report(actor, message):
        ratelimit.check_report(
            for_site_id(message.thread.site_id),
            user=actor.user,
            ip=ratelimit.client_ip(request),
            email=actor.guest_email,
        )
        participation.report_message(actor, message.pk, plain_text(payload.reason, 500))

    return _message_action(
        request, message_id, report, _("Thank you. The moderators will look at this message.")
    )


PersonAction = Literal["block", "unblock"]


@api.post(
    "/people/{participant_id}/{action}", response={200: ActionOut, **ERRORS}, tags=["threads"]
)
def person_action(request, participant_id: Id, action: PersonAction):
    """Block (or unblock) someone one shares a conversation with: ``people[].id`` of a
    thread. Nothing they send reaches a person who blocks them, and they are not told."""
    from .services import safety
    from .views.actions import _other

    actor = actor_of(request)
    other = _other(actor, participant_id)
    if other is None:
        raise HttpError(404, _("Not found."))
    try:
        (safety.block if action == "block" else safety.unblock)(actor, other.pk)
    except MessengerError as error:
        refuse(error, 403)
    if action == "block":
        done = _("You blocked %(name)s. Nothing they send reaches you any more.")
    else:
        done = _("You unblocked %(name)s. What they sent meanwhile now shows.")
    return {"ok": True, "message": done % {"name": other.display_name}}


# -- preferences ---------------------------------------------------------------------------


class Preferences(Input):
    allow_contact: bool = Field(description="Others may start conversations with you.")
    email_frequency: Literal["", "every", "round", "daily", "never"] = Field(
        description='How often you are emailed; "" follows the site\'s setting.'
    )


def _user_of(request):
    actor = actor_of(request)
    if actor.user is None:
        raise HttpError(403, _("Only people with an account have preferences."))
    return actor.user


@api.get("/preferences", response={200: Preferences, **ERRORS}, tags=["session"])
def get_preferences(request):
    """Your messenger switches (as on the preferences page)."""
    from .services import safety

    current = safety.preferences_for(_user_of(request))
    return {"allow_contact": current.allow_contact, "email_frequency": current.email_frequency}


@api.post("/preferences", response={200: Preferences, **ERRORS}, tags=["session"])
def set_preferences(request, payload: Preferences):
    """Change your switches; the answer is what is saved."""
    from .services import safety

    user = _user_of(request)
    try:
        saved = safety.set_preferences(user, **payload.dict())
    except MessengerError as error:
        refuse(error)
    return {"allow_contact": saved.allow_contact, "email_frequency": saved.email_frequency}


# -- starting a conversation -------------------------------------------------------------


def _listing(request, page_id):
    from django.http import Http404

    from .views.compose import visible_listing

    try:
        return visible_listing(request, page_id)
    except Http404:
        raise HttpError(404, _("Not found.")) from None


@api.get(
    "/listings/{page_id}/compose",
    response={200: ComposeInfo, **ERRORS},
    auth=None,
    tags=["compose"],
)
def compose_info(request, page_id: Id):
    """Whether the visitor can write about the listing, to whom, and what to send."""
    from .services.settings import for_site
    from .views.compose import LOGIN, compose_problem, conversation_about

    page = _listing(request, page_id)
    conf = for_site(site=page.get_site())
    actor = Actor.from_request(request)
    recipient = listings.recipient_for(page, request, conf)
    problem = compose_problem(page, conf, recipient, actor)
    get_token(request)  # the CSRF cookie a same-site front end posts with
    name = ""
    if recipient is not None:
        name = getattr(recipient, "name", "") or (
            recipient.get_full_name() or recipient.get_username()
        )
    ongoing = conversation_about(page, recipient, actor) if problem is None else None
    return {
        "can_write": problem is None,
        "conversation": ongoing.pk if ongoing else None,
        "problem": "" if problem in (None, LOGIN) else str(problem),
        "login_required": problem == LOGIN,
        "ask_identity": actor.user is None and not actor.is_guest,
        "recipient": name if problem is None else "",
        "stamp": form_stamp(),
        "key": new_key(),
    }


@api.post(
    "/listings/{page_id}/compose",
    response={201: Started, **ERRORS},
    auth=None,
    tags=["compose"],
)
def compose(
    request,
    page_id: Id,
    body: Form[str],
    key: Form[str] = "",
    name: Form[str] = "",
    email: Form[str] = "",
    wm_started: Form[str] = "",
    attachment: File[UploadedFile] = None,
):
    """Start a conversation about the listing (``multipart/form-data``): ``body``,
    ``key``, an ``attachment``; a visitor without a session also ``name``, ``email``
    and ``wm_started`` (the ``stamp`` of ``GET``), and receives a private link by email.
    Logged-in users post with the CSRF token (or a token)."""
    from .services.settings import for_site
    from .views.compose import LOGIN, compose_problem, start_conversation

    actor = _compose_actor(request)
    page = _listing(request, page_id)
    conf = for_site(site=page.get_site())
    recipient = listings.recipient_for(page, request, conf)
    problem = compose_problem(page, conf, recipient, actor)
    if problem == LOGIN:
        refuse(_("Please log in to write about this listing."), 401)
    if problem:
        refuse(problem, 403)
    ask_identity = actor.user is None and not actor.is_guest
    form = ComposeForm(request.POST, request.FILES, conf=conf, ask_identity=ask_identity)
    if not form.is_valid():
        refuse(_form_problem(form))
    try:
        posted = start_conversation(request, actor, page, recipient, conf, form)
    except RateLimited as error:
        refuse(error, 429)
    except MessengerError as error:
        refuse(error)
    from .services.spam import held_notice

    held = posted.message.state == Message.State.HELD
    if held:
        notice = str(held_notice(posted.message, conf))
    else:
        notice = _("Check your email: we sent you a private link.") if ask_identity else ""
    started = {"thread": None if ask_identity else posted.thread.pk, "held": held}
    return Status(201, {**started, "notice": notice})


def require_csrf(request):
    """The CSRF check of the POSTs open to visitors (ninja's cookie auth, which checks
    it for the others, does not run there)."""
    if check_csrf(request):
        raise HttpError(403, _("CSRF check failed: send the csrftoken cookie's value."))


def _compose_actor(request):
    """A token's user, else the session's person after the CSRF check (the endpoint is
    open to visitors, so ninja's cookie auth does not run)."""
    if request.headers.get("Authorization", "").startswith("Bearer "):
        actor = _optional_actor(request)
        if actor is None:
            raise HttpError(401, _("That token is not valid."))
        return actor
    require_csrf(request)
    return Actor.from_request(request)


# -- guests ------------------------------------------------------------------------------


@api.post(
    "/guest/session",
    response={200: GuestSession, **ERRORS},
    auth=None,
    tags=["guests"],
)
def guest_session(request, payload: LinkIn):
    """Exchange the token of a guest's emailed link (the last part of its address) for
    the session: the guest's conversations are then theirs in this API."""
    require_csrf(request)
    conf = for_site_id(None)
    try:
        ratelimit.check_link_requests(conf, ip=ratelimit.client_ip(request))
    except RateLimited as error:
        refuse(error, 429)
    try:
        row = guests.check(payload.token)  # nothing is written before the checks pass
    except InvalidLink as error:
        refuse(error, 410)
    user = request.user if request.user.is_authenticated else None
    if user is not None and normalise_email(user.email) != row.email:
        refuse(
            _("This link was sent to another email address. Log out to open it as a guest."), 403
        )
    try:
        row = guests.redeem(payload.token)
    except InvalidLink as error:  # expired or used up in between
        refuse(error, 410)
    if request.session.get(GUEST_SESSION_KEY) != row.email:
        request.session.cycle_key()
    request.session[GUEST_SESSION_KEY] = row.email
    if user is not None:
        guests.claim_guest_threads(user, row.email)
    return {"thread": row.thread_id, "email": row.email}


class LinkRequest(Input):
    email: str = Field(max_length=254)


class Sent(Schema):
    detail: str


@api.post("/guest/link", response={200: Sent, **ERRORS}, auth=None, tags=["guests"])
def request_link(request, payload: LinkRequest):
    """Email fresh private links to an address that has guest conversations ("lost your
    link?"). The answer is the same whether it has any or not."""
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    require_csrf(request)
    try:
        validate_email(payload.email)
    except ValidationError:
        refuse(_("Enter a valid email address."))
    email = normalise_email(payload.email)
    conf = for_site_id(None)
    try:
        ratelimit.check_link_requests(conf, ip=ratelimit.client_ip(request))
    except RateLimited as error:
        refuse(error, 429)
    if ratelimit.link_email_allowed(conf, email) and guests.guest_threads(email).exists():
        guests.send_link_on_commit(email)
    return {
        "detail": _(
            "If this address has conversations here, a new private link is on its "
            "way. It can take a few minutes; check your spam folder too."
        )
    }


# -- errors ------------------------------------------------------------------------------


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, exc):
    return api.create_response(request, {"detail": _("Log in, or send a valid token.")}, status=401)
