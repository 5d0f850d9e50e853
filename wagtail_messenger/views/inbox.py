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
from .threads import time_maker, url_maker

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


class RowDisplay:
    """What every row of one page shares (addresses, labels, the time format), worked
    out once; :meth:`decorate` then fills one row from data already loaded."""

    def __init__(self):
        self.urls = row_urls()
        self.labels = row_labels()
        self.stamp = time_maker("SHORT_DATETIME_FORMAT")
        self.preview_length = get_setting("PREVIEW_LENGTH")

    def decorate(self, row):
        """Set on ``row`` what ``inbox.html`` prints, so the template reads plain values
        (its cost is per variable, and a page has 20 rows): no queries here."""
        thread = row.thread
        row.url = self.urls["thread"](thread.pk)
        row.flag_url = self.urls["unflag" if row.flagged else "flag"](thread.pk)
        row.flag_label = self.labels["unflag" if row.flagged else "flag"]
        row.title = thread.title
        row.select_label = gettext("Select “%(title)s”") % {"title": row.title}
        everyone = getattr(thread, "everyone", None) or []
        row.others = [p for p in everyone if p.pk != row.pk]
        row.other = row.others[0] if row.others else None
        row.names = ", ".join(str(p.display_name) for p in row.others) or self.labels["nobody"]
        row.avatar = row.other.initials if row.other is not None else "?"
        row.avatar_is_guest = row.other is None or row.other.is_guest
        row.time_iso, row.time_label = self.stamp(row.last_message_at)
        row.css = " ".join(
            name
            for name, on in (
                ("wm-row", True),
                ("wm-row--unread", row.unread_count),
                ("wm-row--blocked", row.peer_blocked),
                ("wm-row--flagged", row.flagged),
            )
            if on
        )
        self.preview(row, thread.last_message)
        return row

    def preview(self, row, message):
        # A message that did not reach this person (sent by someone they block) is not
        # previewed: their own row keeps the time of the last message that did reach
        # them.
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
                body, length = message.body, self.preview_length
                row.preview = body if len(body) <= length else Truncator(body).chars(length)
        elif message is None:
            row.preview_note = _("Waiting for review")


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
    display = RowDisplay()
    for row in page.rows:
        display.decorate(row)

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
            "labels": display.labels,
            "current_url": request.get_full_path(),
        },
    )
