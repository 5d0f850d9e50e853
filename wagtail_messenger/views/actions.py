"""POST endpoints for what a person does with their own threads and messages.

Every action goes through ``services.participation`` or ``services.safety`` (the only
writers). A plain form post gets a redirect back with a notice; a request that sends
``Accept: application/json`` gets ``{"ok": ..., "message": ...}``. Unknown or foreign ids
answer 404; any other refusal (a :class:`MessengerError`) is shown as a message.
"""

from dataclasses import dataclass

from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from ..actors import Actor
from ..exceptions import MessengerError, NotAllowed, RateLimited
from ..forms import plain_text
from ..ids import parse_ids
from ..login import redirect_to_login
from ..models import Message, Participant
from ..services import access, participation, ratelimit, safety
from ..services.settings import for_site_id
from .content import wants_json
from .limited import rate_limited

#: The most thread ids one bulk request acts on.
BULK_LIMIT = 500


@dataclass(frozen=True)
class Action:
    run: object
    done: str


THREAD_ACTIONS = {
    "flag": Action(
        lambda actor, ids: participation.set_flagged(actor, ids, True),
        _("Conversation flagged as important."),
    ),
    "unflag": Action(
        lambda actor, ids: participation.set_flagged(actor, ids, False),
        _("Flag removed."),
    ),
    "mute": Action(
        lambda actor, ids: participation.set_muted(actor, ids, True),
        _("Notifications muted for this conversation."),
    ),
    "unmute": Action(
        lambda actor, ids: participation.set_muted(actor, ids, False),
        _("Notifications turned back on for this conversation."),
    ),
    "read": Action(participation.mark_read, _("Marked as read.")),
    "unread": Action(participation.mark_unread, _("Marked as unread.")),
    "archive": Action(participation.archive, _("Conversation archived.")),
    "unarchive": Action(participation.unarchive, _("Conversation moved back to the inbox.")),
    "trash": Action(
        participation.trash,
        _("Conversation moved to the trash. The other person keeps their copy."),
    ),
    "restore": Action(participation.restore, _("Conversation restored to the inbox.")),
}

#: Bulk actions: the service, and the notice for ``count`` conversations.
BULK_ACTIONS = {
    "read": (
        participation.mark_read,
        lambda n: ngettext(
            "%(count)d conversation marked as read.",
            "%(count)d conversations marked as read.",
            n,
        ),
    ),
    "archive": (
        participation.archive,
        lambda n: ngettext(
            "%(count)d conversation archived.", "%(count)d conversations archived.", n
        ),
    ),
    "unarchive": (
        participation.unarchive,
        lambda n: ngettext(
            "%(count)d conversation moved back to the inbox.",
            "%(count)d conversations moved back to the inbox.",
            n,
        ),
    ),
    "trash": (
        participation.trash,
        lambda n: ngettext(
            "%(count)d conversation moved to the trash.",
            "%(count)d conversations moved to the trash.",
            n,
        ),
    ),
    "restore": (
        participation.restore,
        lambda n: ngettext(
            "%(count)d conversation restored.", "%(count)d conversations restored.", n
        ),
    ),
}


# -- responses ---------------------------------------------------------------------------


def back_url(request):
    """Where a plain form post returns: its ``next`` field when it is on this site."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("wagtail_messenger:inbox")


def succeeded(request, text, **data):
    if wants_json(request):
        return JsonResponse({"ok": True, "message": str(text), **data})
    messages.success(request, text)
    return redirect(back_url(request))


def failed(request, error, status=400):
    if wants_json(request):
        return JsonResponse({"ok": False, "message": str(error)}, status=status)
    messages.error(request, str(error))
    return redirect(back_url(request))


def not_found(request):
    if wants_json(request):
        return JsonResponse({"ok": False, "message": str(_("Not found."))}, status=404)
    raise Http404


def acting(request):
    """The actor, or ``None`` when nobody is proven (the caller sends them to log in)."""
    actor = Actor.from_request(request)
    return None if actor.is_anonymous else actor


def login_required_response(request):
    if wants_json(request):
        return JsonResponse({"ok": False, "message": str(_("Please log in."))}, status=403)
    return redirect_to_login(back_url(request))


# -- threads -----------------------------------------------------------------------------


@require_POST
def thread_action(request, thread_id, action):
    spec = THREAD_ACTIONS.get(action)
    actor = acting(request)
    if spec is None:
        return not_found(request)
    if actor is None:
        return login_required_response(request)
    try:
        thread = access.get_visible_thread(actor, thread_id)
        access.require_participant(actor, thread)
    except NotAllowed:
        return not_found(request)
    try:
        spec.run(actor, thread.pk)
    except MessengerError as error:
        return failed(request, error)
    return succeeded(request, spec.done, action=action, thread=thread.pk)


@require_POST
def bulk_action(request):
    actor = acting(request)
    if actor is None:
        return login_required_response(request)
    action = request.POST.get("action", "")
    if action not in BULK_ACTIONS:
        return failed(request, _("Choose what to do with the selected conversations."))
    ids = parse_ids(request.POST.getlist("thread"), limit=BULK_LIMIT)
    if not ids:
        return failed(request, _("Select at least one conversation first."))
    run, notice = BULK_ACTIONS[action]
    try:
        # Ids that are not the actor's are simply not touched (the service's rule).
        count = run(actor, ids)
    except MessengerError as error:
        return failed(request, error)
    return succeeded(request, notice(count) % {"count": count}, action=action, count=count)


# -- messages ----------------------------------------------------------------------------


def _visible_message(actor, message_id):
    """A message the actor takes part in and can see, else ``None`` (404)."""
    message = Message.objects.select_related("thread").filter(pk=message_id).first()
    if message is None:
        return None
    participant = access.get_participant(actor, message.thread)
    if participant is None:
        return None
    seen = access.visible_messages(actor, message.thread, participant=participant)
    return message if seen.filter(pk=message.pk).exists() else None


@require_POST
def remove_message(request, message_id):
    actor = acting(request)
    if actor is None:
        return login_required_response(request)
    if _visible_message(actor, message_id) is None:
        return not_found(request)
    try:
        participation.remove_message(actor, message_id)
    except MessengerError as error:
        return failed(request, error, status=403)
    return succeeded(request, _("Your message was removed."), message_id=message_id)


@require_POST
def report_message(request, message_id):
    actor = acting(request)
    if actor is None:
        return login_required_response(request)
    message = _visible_message(actor, message_id)
    if message is None:
        return not_found(request)
    # The thread page's report boxes belong to its one shared form (which carries the
    # CSRF token, so the cached message markup need not): each is named after its message.
    reason = plain_text(request.POST.get(f"reason-{message_id}") or request.POST.get("reason"), 500)
    try:
        ratelimit.check_report(
            for_site_id(message.thread.site_id),
            user=actor.user,
            ip=ratelimit.client_ip(request),
            email=actor.guest_email,
        )
        participation.report_message(actor, message_id, reason)
    except RateLimited as error:
        return rate_limited(request, error, json=wants_json(request))
    except MessengerError as error:
        return failed(request, error, status=403)
    return succeeded(
        request,
        _("Thank you. The moderators will look at this message."),
        message_id=message_id,
    )


# -- people ------------------------------------------------------------------------------


def _other(actor, participant_id):
    """Someone the actor shares a thread with, else ``None`` (404)."""
    other = Participant.objects.select_related("thread").filter(pk=participant_id).first()
    if other is None:
        return None
    mine = access.get_participant(actor, other.thread)
    if mine is None or mine.pk == other.pk:
        return None
    return other


def _person_action(request, participant_id, service, notice):
    """Block or unblock the person behind ``participant_id`` (someone the actor shares a
    thread with); ``notice`` is a translatable text with a ``%(name)s`` placeholder."""
    actor = acting(request)
    if actor is None:
        return login_required_response(request)
    other = _other(actor, participant_id)
    if other is None:
        return not_found(request)
    try:
        service(actor, other.pk)
    except MessengerError as error:
        return failed(request, error, status=403)
    return succeeded(request, notice % {"name": other.display_name}, participant=other.pk)


@require_POST
def block(request, participant_id):
    return _person_action(
        request,
        participant_id,
        safety.block,
        _("You blocked %(name)s. Nothing they send reaches you any more, and they are not told."),
    )


@require_POST
def unblock(request, participant_id):
    return _person_action(
        request,
        participant_id,
        safety.unblock,
        _("You unblocked %(name)s. What they sent meanwhile now shows."),
    )
