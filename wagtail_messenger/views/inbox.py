"""The conversation list: one person's threads, newest activity first.

Pages are cut with a keyset cursor (the sort key of the last row shown) instead of
``OFFSET`` and ``COUNT``: every page reads ``page size + 1`` rows through the
participant index, so an inbox of 20 threads and one of 20,000 cost the same.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.utils.http import urlencode
from django.utils.text import Truncator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .. import fragments, selectors
from ..actors import Actor
from ..conf import get_setting
from ..display import time_maker, url_maker
from ..forms import plain_text
from ..frontend import render
from ..ids import parse_id
from ..login import redirect_to_login
from ..models import Message, Participant
from ..services import safety

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
    parts = [parse_id(part, minimum=0) for part in (value or "").split(".")]
    if len(parts) != 3 or None in parts or parts[0] not in (0, 1):
        return None
    blocked, stamp, pk = parts
    try:
        when = EPOCH + stamp * MICROSECOND
    except OverflowError:
        return None
    return bool(blocked), when, pk


# -- display -----------------------------------------------------------------------------


def row_urls():
    """Address makers for the rows: one ``reverse`` each instead of one per row."""
    return {
        "thread": url_maker("wagtail_messenger:thread"),
        "flag": url_maker("wagtail_messenger:thread_action", "flag"),
        "unflag": url_maker("wagtail_messenger:thread_action", "unflag"),
        "unblock": url_maker("wagtail_messenger:unblock"),
    }


def row_labels():
    """What rows say in their values, translated once for the page rather than once
    per row (the words of the markup are in the template)."""
    return {
        "nobody": gettext("Nobody else"),
        "select": gettext("Select “%(title)s”"),
        "flag": gettext("Flag as important"),
        "unflag": gettext("Remove flag"),
    }


#: What ``includes/inbox_row.html`` shows of a row: the key its rendered markup is
#: cached under (``wagtail_messenger.fragments``). A template that prints more of the
#: row adds the names here (``RowDisplay.FRAGMENT_FIELDS``).
ROW_FRAGMENT_FIELDS = (
    *("css", "thread_id", "url", "names", "avatar", "avatar_is_guest", "time_iso"),
    *("time_label", "time_title", "title", "listing_summary", "listing_is_gone"),
    *("preview", "preview_note"),
    *("preview_is_mine", "peer_blocked", "muted", "unblock_url", "unread_count"),
    *("flagged", "flag_url", "flag_label", "select_label", "email_unconfirmed"),
)


class RowDisplay:
    """What every row of one page shares (addresses, labels, the time format), worked
    out once; :meth:`decorate` then fills one row from data already loaded, and
    :meth:`render` makes the rows' markup from ``includes/inbox_row.html``."""

    TEMPLATE = "wagtail_messenger/includes/inbox_row.html"
    FRAGMENT_FIELDS = ROW_FRAGMENT_FIELDS

    def __init__(self):
        self.urls = row_urls()
        self.labels = row_labels()
        self.stamp = time_maker()
        self.preview_length = get_setting("PREVIEW_LENGTH")

    def decorate(self, row):
        """Set on ``row`` (a ``selectors.InboxRow``) what its markup shows: no queries."""
        row.url = self.urls["thread"](row.thread_id)
        row.flag_url = self.urls["unflag" if row.flagged else "flag"](row.thread_id)
        row.flag_label = self.labels["unflag" if row.flagged else "flag"]
        row.select_label = self.labels["select"] % {"title": row.title}
        row.others = [p for p in row.everyone if p.pk != row.pk]
        row.other = row.others[0] if row.others else None
        row.names = ", ".join(str(p.display_name) for p in row.others) or self.labels["nobody"]
        row.avatar = row.other.initials if row.other is not None else "?"
        row.avatar_is_guest = row.other is None or row.other.is_guest
        row.email_unconfirmed = any(p.email_unconfirmed for p in row.others)
        row.unblock_url = (
            self.urls["unblock"](row.other.pk) if row.peer_blocked and row.other else ""
        )
        row.time_iso, row.time_label, row.time_title = self.stamp(row.last_message_at)
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
        self.preview(row, row.last_message)
        return row

    def render(self, rows):
        """Each row's markup as ``row.html``, from the fragment cache or the template."""
        markup = fragments.render_each(self.TEMPLATE, rows, name="row", fields=self.FRAGMENT_FIELDS)
        for row, html in zip(rows, markup, strict=True):
            row.html = html

    def preview(self, row, message):
        # A message that did not reach this person (sent by someone they block) is not
        # previewed: their own row keeps the time of the last message that did reach
        # them.
        reached = row.message_reached
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
    query = plain_text(request.GET.get("q"), 100)
    after = decode_cursor(request.GET.get("after"))
    before = decode_cursor(request.GET.get("before")) if after is None else None
    page = selectors.inbox_page(
        actor,
        tab.folder,
        flagged=tab.flagged,
        unread=tab.unread,
        query=query,
        after=after,
        before=before,
        size=get_setting("THREADS_PER_PAGE"),
    )
    rows = page.rows
    # Read backwards ("before"), more rows mean more newer ones and older ones exist
    # (we came from there); read forwards, the other way round.
    has_newer = page.has_more if before is not None else after is not None
    has_older = page.has_more if before is None else True
    newer = encode_cursor(rows[0]) if rows and has_newer else None
    older = encode_cursor(rows[-1]) if rows and has_older else None
    display = RowDisplay()
    for row in rows:
        display.decorate(row)
    display.render(rows)

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
            "rows": rows,
            "newer_url": link(before=newer) if newer else None,
            "older_url": link(after=older) if older else None,
            "preference": preference,
            "labels": display.labels,
            "current_url": request.get_full_path(),
        },
    )
