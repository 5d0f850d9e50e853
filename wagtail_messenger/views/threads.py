"""The thread page, its reply form, the live-update poll and "older messages".

Visibility only through ``access.open_thread`` (the rule of ``get_visible_thread``, one
for pages and JSON): unknown and foreign thread ids both answer 404.
"""

from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from .. import fragments, selectors
from ..actors import Actor
from ..conf import get_setting
from ..display import message_text, time_maker, url_maker
from ..exceptions import MessengerError, NotAllowed, RateLimited
from ..forms import ReplyForm, new_key
from ..frontend import render
from ..ids import parse_id
from ..login import redirect_to_login
from ..models import Message, Participant, Thread
from ..services import (
    access,
    attachments,
    conversations,
    lifecycle,
    participation,
    ratelimit,
    team,
)
from ..services.settings import for_site_id
from ..services.spam import held_notice
from .content import wants_json
from .limited import rate_limited


def int_param(request, name):
    """The id in ``?name=`` (0 allowed: "after nothing"), or ``None`` (``ids.parse_id``)."""
    return parse_id(request.GET.get(name), minimum=0)


def load_thread(request, thread_id, *, with_listing=False):
    """The actor, the thread and its people (``access.open_thread``), or 404."""
    actor = Actor.from_request(request)
    try:
        thread, people = access.open_thread(actor, thread_id, with_listing=with_listing)
    except NotAllowed:
        raise Http404 from None
    return actor, thread, people


ACTION_FORM = "wm-action-form"
MESSAGE_TEMPLATE = "wagtail_messenger/includes/message.html"
#: What ``includes/message.html`` shows of a message: the key its rendered markup is
#: cached under (``wagtail_messenger.fragments``). A template that prints more of the
#: message adds the names here.
MESSAGE_FRAGMENT_FIELDS = (
    *("pk", "state", "moderation_reason", "body", "is_mine", "css", "time_iso"),
    *("time_label", "time_title", "sender_name", "sender_initials", "sender_is_guest"),
    "file_shown",
    *("contains_contact_details", "kind", "note_text"),
)


def prepare_messages(rows, participant):
    """Set on each message what its markup shows, without queries: ``is_mine``,
    ``file`` (the attachment or ``None``), the action addresses, ``css`` (the element's
    classes), ``time_iso`` and ``time_label``, ``text_html`` (the text as safe HTML,
    ``messenger_text``) and the sender's ``sender_name``, ``sender_initials`` and
    ``sender_is_guest``."""
    remove_url = url_maker("wagtail_messenger:remove_message")
    report_url = url_maker("wagtail_messenger:report_message")
    stamp = time_maker()
    mine = participant.pk if participant is not None else None
    show_member = get_setting("SHOW_TEAM_MEMBER")
    for message in rows:
        if message.kind == Message.Kind.NOTE:
            _prepare_note(message, stamp)
            continue
        message.note_text = ""
        message.is_mine = mine is not None and message.sender_id == mine
        try:
            message.file = message.attachment
        except ObjectDoesNotExist:
            message.file = None
        file = message.file
        message.file_shown = file and (file.pk, file.name, file.size, file.is_expired)
        if message.is_mine:
            message.remove_url = remove_url(message.pk)
        else:
            message.report_url = report_url(message.pk)
        css = ["wm-message"]
        if message.is_mine:
            css.append("wm-message--mine")
        if message.state != Message.State.VISIBLE:
            css.append(f"wm-message--{message.state}")
        message.css = " ".join(css)
        message.time_iso, message.time_label, message.time_title = stamp(message.created_at)
        sender = message.sender
        message.sender_name = sender.display_name
        if show_member and sender.group_id is not None and message.author_id is not None:
            message.sender_name = _("%(member)s for %(team)s") % {
                "member": message.author.get_full_name() or message.author.get_username(),
                "team": sender.display_name,
            }
        message.sender_initials = sender.initials
        message.sender_is_guest = sender.is_guest
        message.text_html = message_text(message.body)
    return rows


def _prepare_note(note, stamp):
    """A listing note shows its text in the reader's language and its time; it belongs
    to nobody and has no actions (``includes/message.html``)."""
    note.is_mine, note.file, note.file_shown = False, None, None
    note.css = "wm-message wm-message--note"
    note.time_iso, note.time_label, note.time_title = stamp(note.created_at)
    note.note_text = lifecycle.note_text(note)
    note.sender_name = note.sender_initials = ""
    note.sender_is_guest = False


def message_markup(rows, participant, conf):
    """The markup of prepared messages (:func:`prepare_messages`), one per message, from
    ``includes/message.html`` through the fragment cache. What the page shares goes in
    the context (and so in the cache key): whether the reader can act, whether authors
    may remove their messages, the shared form's id, the site's contact-details mode
    (the recipient's warning in "warn" mode)."""
    context = {
        "can_act": participant is not None,
        "remove_allowed": conf.users_may_remove_messages,
        "action_form": ACTION_FORM,
        "contact_details_mode": conf.contact_details,
    }
    return fragments.render_each(
        MESSAGE_TEMPLATE, rows, name="message", fields=MESSAGE_FRAGMENT_FIELDS, context=context
    )


def render_messages(thread, participant, rows, conf=None):
    """``[{"id", "html"}]`` for the JSON answers; the action buttons post the page's
    shared form and come back to the thread page."""
    conf = conf or for_site_id(thread.site_id)
    prepare_messages(rows, participant)
    markup = message_markup(rows, participant, conf)
    return [{"id": m.pk, "html": html} for m, html in zip(rows, markup, strict=True)]


def listing_link(request, thread):
    """``(title, url)`` of the listing, from the live page or from the snapshot."""
    if thread.listing_id and thread.listing is not None and thread.listing.live:
        return thread.title, thread.listing.get_url(request)
    return thread.listing_title, ""


@never_cache
def thread_view(request, thread_id):
    actor = Actor.from_request(request)
    if actor.is_anonymous:
        return redirect_to_login(request.get_full_path())
    # The page shows the listing's link: its page comes with the thread. A reply that
    # goes through does not need it (a refused one reads it when it shows the page).
    actor, thread, people = load_thread(request, thread_id, with_listing=request.method != "POST")
    participant = people.me
    conf = for_site_id(thread.site_id)
    can_reply = participant is not None and thread.is_open and conf.enabled

    form = None
    if request.method == "POST":
        if not can_reply:
            problem = _("You cannot reply in this conversation.")
            if wants_json(request):
                return JsonResponse({"ok": False, "errors": [problem]}, status=403)
            return render(
                request, "wagtail_messenger/problem.html", {"problem": problem}, status=403
            )
        form = ReplyForm(request.POST, request.FILES, conf=conf)
        result = post_reply(request, actor, thread, participant, conf, form)
        if result is not None:
            return result
        if wants_json(request):
            return JsonResponse({"ok": False, "errors": form_errors(form)}, status=400)

    before = int_param(request, "before")
    # Showing the page changes nothing (a GET, a HEAD, a mail scanner following the
    # guest link): the reader marks it read by POST (thread.js, mark_read below), by
    # replying, or from the inbox.
    page = selectors.message_page(actor, thread, people=people, before_id=before)
    title, url = listing_link(request, thread)
    prepare_messages(page.messages, participant)
    context = {
        "thread": thread,
        "participant": participant,
        "action_form": ACTION_FORM,
        "next_url": request.get_full_path(),
        "messages_html": message_markup(page.messages, participant, conf),
        "others": people.others,
        "page": page,
        "before": before,
        "listing_title": title,
        "listing_url": url,
        "listing_image": thread.listing_image if thread.listing_image_id else None,
        "other_listings_url": (
            lifecycle.other_listings_url(thread, request)
            if thread.status == Thread.Status.ENDED
            else ""
        ),
        "form": form if form is not None else (ReplyForm(conf=conf) if can_reply else None),
        "can_reply": can_reply,
        "live_config": {
            "pollUrl": reverse("wagtail_messenger:poll", args=[thread.pk]),
            "olderUrl": reverse("wagtail_messenger:older", args=[thread.pk]),
            "cursor": page.newest_seq,
            "unread": participant.unread_count if participant is not None else 0,
            "markReadUrl": reverse("wagtail_messenger:mark_read", args=[thread.pk])
            if participant is not None
            else "",
            "interval": get_setting("POLL_INTERVAL"),
            "live": before is None,
        },
    }
    if participant is not None and participant.group_id is not None:
        # A team inbox: its members see who handles the thread and can give it to one.
        members = list(team.team_members(participant).order_by("first_name", "username"))
        context["team_members"] = members
        context["assigned_member"] = next(
            (m for m in members if m.pk == participant.assigned_member_id), None
        )
    return render(request, "wagtail_messenger/thread.html", context)


@require_POST
def assign_team_member(request, thread_id):
    """A member of the team gives the team's thread to one member ("" gives it back to
    the whole team). Not a member of the thread's team: 404; a non-member chosen: 400."""
    actor = Actor.from_request(request)
    if actor.is_anonymous:
        return redirect_to_login(reverse("wagtail_messenger:thread", args=[thread_id]))
    actor, thread, people = load_thread(request, thread_id)
    participant = people.me
    if participant is None or participant.group_id is None or actor.user is None:
        raise Http404
    value = request.POST.get("member", "")
    member_id = parse_id(value) if value else None
    if value and member_id is None:
        return render(
            request,
            "wagtail_messenger/problem.html",
            {"problem": _("Only a member of the team can be chosen.")},
            status=400,
        )
    try:
        team.assign_team_member(actor.user, participant, member_id)
    except NotAllowed as error:
        return render(
            request, "wagtail_messenger/problem.html", {"problem": str(error)}, status=400
        )
    messages.success(request, _("Saved who handles this conversation."))
    return redirect(thread.get_absolute_url())


def form_errors(form):
    return [str(e) for errors in form.errors.values() for e in errors]


def send_reply(request, actor, thread, participant, conf, data):
    """Post the reply of a valid form's ``data`` (the page's and the JSON API's): the
    sender's rate limit, the upload checked and stored, then the service. Raises
    :class:`MessengerError` (``RateLimited`` too)."""
    ratelimit.check_sender(
        conf, user=actor.user, ip=ratelimit.client_ip(request), email=actor.guest_email
    )
    with attachments.stored_upload(data.get("attachment"), conf) as upload:
        return conversations.post_message(
            actor=actor,
            thread=thread,
            body=data["body"],
            upload=upload,
            idempotency_key=data["key"],
            conf=conf,
            participant=participant,
        )


def post_reply(request, actor, thread, participant, conf, form):
    """Post the reply; return the response on success, ``None`` to re-render the form
    (with the error added and the visitor's text kept)."""
    if not form.is_valid():
        return None
    data = form.cleaned_data
    try:
        posted = send_reply(request, actor, thread, participant, conf, data)
    except RateLimited as error:
        kept = {"kept_text": data["body"], "thread": thread}
        return rate_limited(request, error, json=wants_json(request), context=kept)
    except MessengerError as error:
        form.add_error(None, str(error))
        return None
    message = posted.message
    held = message.state == Message.State.HELD
    if wants_json(request):
        message = Message.objects.select_related("sender", "attachment", "author").get(
            pk=message.pk
        )
        answer = {
            "ok": True,
            "messages": render_messages(thread, participant, [message], conf),
            "key": new_key(),
        }
        if held:
            answer["held"] = True
            answer["notice"] = str(held_notice(message, conf))
        return JsonResponse(answer)
    if held:
        messages.info(request, held_notice(message, conf))
    return redirect(f"{thread.get_absolute_url()}#m{message.pk}")


def poll_state(actor, thread_id, after):
    """One query for a participant: ``None`` (not visible: 404), ``False`` (nothing new)
    or ``True``. Only when the actor takes no part is the moderator permission asked."""
    try:
        thread_id = int(thread_id)
    except (TypeError, ValueError):
        return None
    found = selectors.poll_state(actor, thread_id, after)
    if found is None and actor.is_moderator:
        newer = Message.objects.filter(thread_id=OuterRef("pk"), seq__gt=after)
        found = (
            Thread.objects.filter(pk=thread_id)
            .annotate(has_new=Exists(newer))
            .values_list("has_new", flat=True)
            .first()
        )
    return found


@never_cache
@require_safe
def poll(request, thread_id):
    """Messages delivered after the cursor ``?after=<sequence number>`` and the next
    cursor (``selectors.messages_after``: one read, so nothing committed meanwhile is
    skipped). When nothing is new the answer is ``204 No Content`` from a single
    indexed query. Reading changes nothing: the page posts what it showed to
    :func:`mark_read`."""
    actor = Actor.from_request(request)
    after = int_param(request, "after") or 0
    state = poll_state(actor, thread_id, after) if not actor.is_anonymous else None
    if state is None:
        raise Http404
    if not state:
        return HttpResponse(status=204)
    actor, thread, people = load_thread(request, thread_id)
    participant = people.me
    blocked = people.blocked if participant is not None else None
    rows, cursor = selectors.messages_after(
        actor, thread, after, participant=participant, blocked=blocked
    )
    return JsonResponse(
        {"messages": render_messages(thread, participant, rows), "cursor": max(cursor, after)}
    )


@never_cache
@require_POST
def mark_read(request, thread_id):
    """The reader has seen the thread up to ``seen`` (a delivery sequence number, posted
    by thread.js once the page is visible and after a poll brought messages while it
    was). Answers the reader's unread count in the thread."""
    actor, thread, people = load_thread(request, thread_id)
    if people.me is None:
        raise Http404
    seen = parse_id(request.POST.get("seen"), minimum=0)
    if seen is None:
        return JsonResponse({"ok": False, "errors": [_("Which messages were seen?")]}, status=400)
    participation.mark_read(actor, thread.pk, seen_seq=seen)
    unread = Participant.objects.filter(pk=people.me.pk).values_list("unread_count", flat=True)
    return JsonResponse({"ok": True, "unread": unread.first() or 0})


@never_cache
@require_safe
def older(request, thread_id):
    """The page of messages before ``?before=<message id>`` (the "older messages" button)."""
    actor, thread, people = load_thread(request, thread_id)
    participant = people.me
    before = int_param(request, "before")
    page = selectors.message_page(actor, thread, people=people, before_id=before)
    return JsonResponse(
        {
            "messages": render_messages(thread, participant, page.messages),
            "has_older": page.has_older,
            "oldest_id": page.oldest_id,
        }
    )
