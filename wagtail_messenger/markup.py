"""The markup of the two lists that make up most of the messenger's pages: inbox rows
and messages.

They are built here, in Python, rather than with ``{% include %}`` and a loop in a
template: the template engine costs about 3 µs per variable it prints, a row or a
message prints some 20, and a page shows 20 of them, which made the template loop the
largest single cost of the inbox and thread pages (see docs/performance.md). The page
templates print each item with ``{{ row }}`` / ``{{ message.html }}`` inside a block
(``inbox_row``, ``thread_message``) that a project can override with its own markup,
from the same prepared values.

Every value goes through :func:`esc`, Django's escaping; values that are already safe
markup (the message text from ``messenger_text``) go through it unchanged, exactly as
``{{ value }}`` treats them in a template. Attribute values are always quoted.
"""

import functools
from html import escape
from pathlib import Path

import nh3
from django.conf import settings
from django.middleware.csrf import get_token
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.formats import get_format
from django.utils.html import urlize
from django.utils.safestring import mark_safe
from django.utils.text import normalize_newlines
from django.utils.translation import get_language, gettext


def esc(value):
    """Django's ``conditional_escape`` without its check for lazy arguments (a third of
    its cost): safe markup passes unchanged, anything else is escaped."""
    if hasattr(value, "__html__"):
        return value.__html__()
    return escape(str(value))


#: The only elements :func:`text_to_html` emits.
MESSAGE_TAGS = {"a", "br"}


@functools.lru_cache(maxsize=512)
def text_to_html(text):
    """What the ``messenger_text`` filter prints for ``text``: a pure function of the text, so
    the last few hundred results are kept (a thread page and its polls show the same
    messages again and again; linking and cleaning one costs about 0.1 ms)."""
    html = urlize(normalize_newlines(text), trim_url_limit=60, nofollow=True, autoescape=True)
    return nh3.clean(
        html.replace("\n", "<br>"),
        tags=MESSAGE_TAGS,
        attributes={"a": {"href"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener noreferrer",
    )  # escaped by urlize, then allow-listed by nh3


def message_text(value):
    """A message's text as safe HTML (:func:`text_to_html`, whose output is escaped and
    allow-listed): what the ``messenger_text`` filter prints."""
    return mark_safe(text_to_html(str(value or "")))  # noqa: S308 -- see text_to_html


def split_reverse(name, args, marker):
    """``reverse(name, args=args)`` cut around ``marker`` (one of the args): the head
    and tail that any other value of that argument goes between."""
    return reverse(name, args=args).rsplit(str(marker), 1)


def url_maker(name, *extra):
    """``reverse(name, args=[pk, *extra])`` for many primary keys at the cost of one
    reverse: the pages that list rows (20 messages, 20 threads) would otherwise reverse
    once per row and action."""
    marker = 987654321
    head, tail = split_reverse(name, [marker, *extra], marker)
    return lambda pk: f"{head}{int(pk)}{tail}"


def time_maker(format_name):
    """``(machine, human)`` for many datetimes at the cost of one format lookup: what
    ``{{ value|date:"c" }}`` and ``{{ value|date:format_name }}`` print (current time
    zone and language), without a template filter per row."""
    fmt = get_format(format_name)
    zone = timezone.get_current_timezone() if settings.USE_TZ else None
    language = get_language()

    def stamp(value):
        if zone is None or timezone.is_naive(value):
            return value.isoformat(), dateformat.format(value, fmt)
        return time_labels(value, fmt, zone, language)

    return stamp


@functools.lru_cache(maxsize=4096)
def time_labels(value, fmt, zone, language):
    """The two forms of an aware datetime in ``zone``: a pure function of its
    arguments, kept for the last few thousand (formatting one costs about 20 µs, most
    of it translating month names and "a.m.", and a page shows the same rows and
    messages on every view). ``language`` is part of the key, as the words depend on
    it."""
    local = value.astimezone(zone)
    return local.isoformat(), dateformat.format(local, fmt)


def optional(condition, markup):
    return markup if condition else ""


def inbox_row(row, labels, unblock_url):
    """One ``<li>`` of the inbox list from a row prepared by ``RowDisplay.decorate``."""
    if row.preview:
        you = f'<span class="wm-muted">{esc(labels["you"])}</span> '
        preview = optional(row.preview_is_mine, you) + esc(row.preview)
    elif row.preview_note:
        preview = f'<em class="wm-muted">{esc(row.preview_note)}</em>'
    else:
        preview = ""
    tags = ""
    if row.peer_blocked:
        tags += f'<span class="wm-row__tag">{esc(labels["blocked"])}</span>'
    if row.muted:
        muted_title = esc(labels["muted_title"])
        tags += f'<span class="wm-row__tag" title="{muted_title}">{esc(labels["muted"])}</span>'
    side = ""
    if row.peer_blocked and row.other is not None:
        side += (
            '<button type="submit" class="wm-actions__button"'
            f' formaction="{esc(unblock_url(row.other.pk))}">{esc(labels["unblock"])}</button>'
        )
    if row.unread_count:
        side += (
            f'<span class="wm-badge" title="{esc(labels["unread_title"])}">{row.unread_count}'
            f'<span class="wm-visually-hidden"> {esc(labels["unread"])}</span></span>'
        )
    gone = f' <span class="wm-muted">({esc(labels["listing_removed"])})</span>'
    flag = esc(row.flag_label)
    return mark_safe(  # noqa: S308 -- every value in it is escaped above or here
        f'<li class="{esc(row.css)}">'
        f'<input type="checkbox" name="thread" value="{row.thread_id}" class="wm-row__check"'
        f' aria-label="{esc(row.select_label)}">'
        f'<span class="wm-avatar{optional(row.avatar_is_guest, " wm-avatar--guest")}"'
        f' aria-hidden="true">{esc(row.avatar)}</span>'
        f'<a class="wm-row__link" href="{esc(row.url)}"><span class="wm-row__top">'
        f'<span class="wm-row__name">{esc(row.names)}</span>{tags}'
        f'<time class="wm-row__time" datetime="{esc(row.time_iso)}">{esc(row.time_label)}</time>'
        f'</span><span class="wm-row__listing">{esc(row.title)}'
        f"{optional(row.listing_is_gone, gone)}</span>"
        f'<span class="wm-row__preview">{preview}</span></a>'
        f'<span class="wm-row__side">{side}'
        f'<button type="submit" class="wm-flag{optional(row.flagged, " wm-flag--on")}"'
        f' formaction="{esc(row.flag_url)}" title="{flag}">'
        f'<span aria-hidden="true">{"★" if row.flagged else "☆"}</span>'
        f'<span class="wm-visually-hidden">{flag}</span></button></span></li>'
    )


MESSAGE_TEMPLATE = "wagtail_messenger/includes/message.html"


def overridden(template_name):
    """Whether the project replaces one of the messenger's templates (another
    directory or app comes first for the name). The lists print the markup made here
    directly unless their item template is replaced."""
    from django.template.loader import get_template

    origin = get_template(template_name).origin.name
    return not origin.startswith(BUILT_IN_TEMPLATES)


BUILT_IN_TEMPLATES = str(Path(__file__).resolve().parent / "templates")


class MessageMarkup:
    """The markup of the messages of one page (or JSON answer), from messages prepared
    by ``views.threads.prepare_messages``: what they all share (labels, addresses, the
    CSRF token of the report forms) is worked out once, in ``__init__``.

    ``participant``: the viewer's own row, if any (a moderator taking no part sees no
    actions); ``remove_allowed``: the site lets authors remove their messages;
    ``action_form``: the id of the page's shared form (CSRF token and "next") that the
    Remove buttons post to their own address; ``next_url``: where the report form
    comes back to."""

    def __init__(self, request, *, participant, remove_allowed, action_form, next_url, labels):
        self.participant = participant
        self.remove_allowed = remove_allowed
        self.action_form = esc(action_form)
        self.next_url = esc(next_url)
        self.labels = {key: esc(value) for key, value in labels.items()}
        self.csrf = esc(get_token(request)) if participant is not None else ""
        self.attachment_url = url_maker("wagtail_messenger:attachment")

    def __call__(self, message):
        state = message.state
        if state == "removed":
            body = f'<p class="wm-muted"><em>{self.labels["removed"]}</em></p>'
        elif state == "hidden":
            if message.moderation_reason:
                note = gettext("hidden by moderators: %(reason)s") % {
                    "reason": message.moderation_reason
                }
            else:
                note = self.labels["hidden"]
            body = f'<p class="wm-muted"><em>{esc(note)}</em></p>'
        else:
            body = f"<p>{esc(message.text_html)}</p>{self.attachment(message.file)}"
        return mark_safe(  # noqa: S308 -- every value in it is escaped
            f'<li class="{esc(message.css)}" id="m{message.pk}" data-id="{message.pk}">'
            '<div class="wm-message-meta">'
            f'<span class="wm-avatar{optional(message.sender_is_guest, " wm-avatar--guest")}"'
            f' aria-hidden="true">{esc(message.sender_initials)}</span>'
            f'<strong class="wm-sender">{esc(message.sender_name)}</strong>'
            f'<time class="wm-muted" datetime="{esc(message.time_iso)}">'
            f"{esc(message.time_label)}</time></div>"
            f'<div class="wm-message-body">{body}</div>{self.actions(message)}</li>'
        )

    def attachment(self, file):
        if file is None:
            return ""
        if file.is_expired:
            expired = gettext("Attachment “%(name)s” expired") % {"name": file.name}
            return f'<p class="wm-attachment"><span class="wm-muted">{esc(expired)}</span></p>'
        return (
            f'<p class="wm-attachment"><a href="{self.attachment_url(file.pk)}" download'
            f' rel="nofollow noopener">{esc(file.name)}</a>'
            f' <span class="wm-muted">({esc(filesizeformat(file.size))})</span></p>'
        )

    def actions(self, message):
        if self.participant is None or message.state == "removed":
            return ""
        labels = self.labels
        if message.is_mine:
            if not self.remove_allowed:
                return ""
            return (
                '<div class="wm-message-actions"><button type="submit"'
                f' form="{self.action_form}" formaction="{esc(message.remove_url)}"'
                f' class="wm-actions__link">{labels["remove"]}</button></div>'
            )
        if message.state != "visible":
            return ""
        field = f"wm-report-{message.pk}"
        return (
            '<div class="wm-message-actions"><details class="wm-report">'
            f"<summary>{labels['report']}</summary>"
            f'<form method="post" action="{esc(message.report_url)}">'
            f'<input type="hidden" name="csrfmiddlewaretoken" value="{self.csrf}">'
            f'<input type="hidden" name="next" value="{self.next_url}">'
            f'<label for="{field}">{labels["report_reason"]}</label>'
            f'<textarea id="{field}" name="reason" rows="2" maxlength="2000"></textarea>'
            f'<button type="submit">{labels["report_send"]}</button></form></details></div>'
        )


ACTIONS_TEMPLATE = "wagtail_messenger/includes/thread_actions.html"


def thread_actions(request, *, thread, participant, others, action_form):
    """The per-thread actions of ``includes/thread_actions.html`` (same markup, same
    rules; a project that replaces that template gets the template instead): flag,
    mute, mark unread (back to the inbox), archive or move back, trash or restore, and
    block or unblock each other person (for account holders). Plain form posts: the
    buttons post the page's shared form ``action_form`` to their own address."""
    if participant is None:
        return ""
    from django.templatetags.static import static

    # One reverse for all the actions' addresses (they differ only in the action).
    marker = "wm-action-name"
    head, tail = split_reverse("wagtail_messenger:thread_action", [thread.pk, marker], marker)
    form = esc(action_form)

    def button(name, label, extra_class=""):
        url = f"{head}{name}{tail}"
        return (
            f'<button type="submit" form="{form}" formaction="{esc(url)}"'
            f' class="wm-actions__button{extra_class}" data-wm-action="{name}">'
            f"{esc(label)}</button>"
        )

    parts = [
        f'<link rel="stylesheet" href="{esc(static("wagtail_messenger/inbox.css"))}">',
        f'<div class="wm-actions" aria-label="{esc(gettext("Conversation actions"))}"'
        ' role="group">',
        button("unflag", gettext("Remove flag"))
        if participant.flagged
        else button("flag", gettext("Flag as important")),
        button("unmute", gettext("Turn notifications on"))
        if participant.muted
        else button("mute", gettext("Mute notifications")),
        # "Mark unread" returns to the inbox: reopening the thread would read it again.
        f'<form method="post" action="{esc(f"{head}unread{tail}")}"'
        ' class="wm-actions__form">'
        f'<input type="hidden" name="csrfmiddlewaretoken" value="{esc(get_token(request))}">'
        f'<input type="hidden" name="next" value="{esc(reverse("wagtail_messenger:inbox"))}">'
        '<button type="submit" class="wm-actions__button" data-wm-action="unread">'
        f"{esc(gettext('Mark unread'))}</button></form>",
    ]
    if participant.folder == "archive":
        parts.append(button("unarchive", gettext("Move to inbox")))
    elif participant.folder == "inbox":
        parts.append(button("archive", gettext("Archive")))
    if participant.folder == "trash":
        parts.append(button("restore", gettext("Restore from trash")))
    else:
        parts.append(button("trash", gettext("Move to trash")))
    if (participant.user_id or participant.kind == "group") and request.user.is_authenticated:
        unblock, block = (
            url_maker("wagtail_messenger:unblock"),
            url_maker("wagtail_messenger:block"),
        )
        for other in others:
            if other.pk == participant.pk or other.kind == "group" or other.is_deleted_user:
                continue
            if participant.peer_blocked:
                url, css = unblock(other.pk), "wm-actions__button"
                label = gettext("Unblock %(name)s") % {"name": other.display_name}
            else:
                url, css = block(other.pk), "wm-actions__button wm-actions__button--danger"
                label = gettext("Block %(name)s") % {"name": other.display_name}
            parts.append(
                f'<button type="submit" form="{form}" formaction="{esc(url)}" class="{css}">'
                f"{esc(label)}</button>"
            )
    parts.append("</div>")
    return mark_safe("".join(parts))  # noqa: S308 -- every value in it is escaped
