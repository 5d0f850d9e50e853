"""The conversation list: one person's threads, newest activity first.

Pages are cut with a keyset cursor (the sort key of the last row shown) instead of
``OFFSET`` and ``COUNT``: every page reads ``page size + 1`` rows through the
participant index, so an inbox of 20 threads and one of 20,000 cost the same.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.contrib.auth.views import redirect_to_login
from django.db.models import Q, prefetch_related_objects
from django.shortcuts import render
from django.utils.http import urlencode
from django.utils.text import Truncator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .. import selectors
from ..actors import Actor
from ..conf import get_setting
from ..models import Message, Participant
from ..services import safety
from .threads import url_maker

Folder = Participant.Folder


@dataclass(frozen=True)
class Tab:
    key: str
    label: str
    folder: str
    flagged: bool = False
    unread: bool = False


TABS = (
    Tab("inbox", _("Inbox"), Folder.INBOX),
    Tab("unread", _("Unread"), Folder.INBOX, unread=True),
    Tab("flagged", _("Flagged"), Folder.INBOX, flagged=True),
    Tab("archive", _("Archive"), Folder.ARCHIVE),
    Tab("trash", _("Trash"), Folder.TRASH),
)
TABS_BY_KEY = {tab.key: tab for tab in TABS}


# -- keyset cursor -----------------------------------------------------------------------


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def encode_cursor(row):
    """``"<blocked 0|1>.<microseconds since epoch>.<row id>"``: the row's sort key, in
    integers so the time survives the round trip exactly."""
    stamp = (row.last_message_at - EPOCH) // MICROSECOND
    return f"{int(row.peer_blocked)}.{stamp}.{row.pk}"


def decode_cursor(value):
    """The sort key in a cursor, or ``None`` for anything malformed (first page)."""
    try:
        blocked, stamp, pk = (int(part) for part in (value or "").split("."))
        when = EPOCH + stamp * MICROSECOND
    except (ValueError, OverflowError):
        return None
    if blocked not in (0, 1):
        return None
    return bool(blocked), when, pk


def after_q(key):
    """Rows that sort after ``key`` in ``peer_blocked, -last_message_at, -pk`` order."""
    blocked, when, pk = key
    same_time = Q(last_message_at=when, pk__lt=pk)
    same_block = Q(peer_blocked=blocked) & (Q(last_message_at__lt=when) | same_time)
    return same_block | (Q(peer_blocked=True) if not blocked else Q(pk__in=[]))


def before_q(key):
    """Rows that sort before ``key`` (the previous page, read backwards)."""
    blocked, when, pk = key
    same_time = Q(last_message_at=when, pk__gt=pk)
    same_block = Q(peer_blocked=blocked) & (Q(last_message_at__gt=when) | same_time)
    return same_block | (Q(peer_blocked=False) if blocked else Q(pk__in=[]))


@dataclass
class InboxPage:
    rows: list
    newer: str | None
    older: str | None


def page_of(rows, *, after=None, before=None, size):
    """Cut one page out of ordered participant ``rows`` with the keyset cursors. Reads
    ``size + 1`` rows (the extra one only tells that another page exists); the
    participants are then fetched for the shown rows only."""
    rows = rows.prefetch_related(None)
    if before is not None:
        backwards = rows.filter(before_q(before)).order_by("-peer_blocked", "last_message_at", "pk")
        found = list(backwards[: size + 1])
        has_newer = len(found) > size
        page = found[:size][::-1]
        prefetch_related_objects(page, selectors.everyone_prefetch())
        return InboxPage(
            rows=page,
            newer=encode_cursor(page[0]) if has_newer and page else None,
            older=encode_cursor(page[-1]) if page else None,
        )
    if after is not None:
        rows = rows.filter(after_q(after))
    found = list(rows[: size + 1])
    page = found[:size]
    prefetch_related_objects(page, selectors.everyone_prefetch())
    return InboxPage(
        rows=page,
        newer=encode_cursor(page[0]) if after is not None and page else None,
        older=encode_cursor(page[-1]) if len(found) > size else None,
    )


# -- display -----------------------------------------------------------------------------


def row_urls():
    """Address makers for the rows: one ``reverse`` each instead of one per row."""
    return {
        "thread": url_maker("wagtail_messenger:thread"),
        "flag": url_maker("wagtail_messenger:thread_action", "flag"),
        "unflag": url_maker("wagtail_messenger:thread_action", "unflag"),
    }


def row_labels():
    """What every row says, translated once for the page rather than once per row."""
    return {
        "nobody": gettext("Nobody else"),
        "blocked": gettext("Blocked"),
        "muted": gettext("Muted"),
        "muted_title": gettext("Notifications muted"),
        "listing_removed": gettext("listing removed"),
        "you": gettext("You:"),
        "unblock": gettext("Unblock"),
        "unread": gettext("unread"),
        "unread_title": gettext("Unread messages"),
        "flag": gettext("Flag as important"),
        "unflag": gettext("Remove flag"),
    }


def decorate(row, urls=None):
    """What the template shows for one row, from data already loaded (no queries)."""
    thread = row.thread
    urls = urls or row_urls()
    row.url = urls["thread"](thread.pk)
    row.flag_url = urls["unflag" if row.flagged else "flag"](thread.pk)
    row.select_label = gettext("Select “%(title)s”") % {"title": thread.title}
    everyone = getattr(thread, "everyone", None) or []
    row.others = [p for p in everyone if p.pk != row.pk]
    row.other = row.others[0] if row.others else None
    message = thread.last_message
    # A message that did not reach this person (sent by someone they block) is not
    # previewed: their own row keeps the time of the last message that did reach them.
    reached = message is not None and (
        message.sender_id == row.pk or message.created_at <= row.last_message_at
    )
    row.preview = ""
    row.preview_note = ""
    row.preview_is_mine = reached and message.sender_id == row.pk
    if reached:
        if message.state == Message.State.REMOVED:
            row.preview_note = _("Message removed")
        elif message.state == Message.State.HIDDEN:
            row.preview_note = _("Hidden by moderators")
        else:
            length = get_setting("PREVIEW_LENGTH")
            body = message.body
            row.preview = body if len(body) <= length else Truncator(body).chars(length)
    elif message is None:
        row.preview_note = _("Waiting for review")
    return row


def inbox(request):
    actor = Actor.from_request(request)
    if actor.is_anonymous:
        return redirect_to_login(request.get_full_path())
    tab = TABS_BY_KEY.get(request.GET.get("view", ""), TABS[0])
    query = request.GET.get("q", "").strip()[:100]
    rows = selectors.inbox(actor, tab.folder, flagged=tab.flagged, unread=tab.unread)
    if query:
        rows = selectors.search_inbox(rows, actor, query)
    page = page_of(
        rows,
        after=decode_cursor(request.GET.get("after")),
        before=decode_cursor(request.GET.get("before")),
        size=get_setting("THREADS_PER_PAGE"),
    )
    urls = row_urls()
    for row in page.rows:
        decorate(row, urls)

    def link(**extra):
        params = {"view": tab.key, "q": query, **extra}
        return "?" + urlencode({key: value for key, value in params.items() if value})

    preference = safety.preferences_for(actor.user) if actor.user is not None else None
    return render(
        request,
        "wagtail_messenger/inbox.html",
        {
            "actor": actor,
            "tab": tab,
            "tabs": [(t, link(view=t.key)) for t in TABS],
            "query": query,
            "rows": page.rows,
            "newer_url": link(before=page.newer) if page.newer else None,
            "older_url": link(after=page.older) if page.older else None,
            "preference": preference,
            "labels": row_labels(),
            "current_url": request.get_full_path(),
        },
    )
