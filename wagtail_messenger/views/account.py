"""The header widget's JSON: unread total and the latest threads."""

from django.http import JsonResponse
from django.urls import reverse
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .. import selectors
from ..actors import Actor
from ..conf import get_setting
from ..models import Message

LATEST = 5


def badge(count):
    """What the badge shows: ``""`` for none, ``"99+"`` above 99."""
    if not count:
        return ""
    return "99+" if count > 99 else str(count)


def preview(message):
    """The widget's text for a message that reached the reader (see
    ``InboxRow.message_reached``); ``""`` for none."""
    if message is None:
        return ""
    if message.state == Message.State.REMOVED:
        return str(_("Message removed"))
    if message.state == Message.State.HIDDEN:
        return str(_("Hidden by moderators"))
    return Truncator(" ".join(message.body.split())).chars(get_setting("PREVIEW_LENGTH"))


def preview_author(row):
    """Who wrote the message the preview shows: "You" for the viewer's own, else the
    sender's name; ``""`` when there is no message."""
    message = row.last_message
    if not row.message_reached:
        return ""
    if message.sender_id == row.pk:
        return str(_("You"))
    for person in row.everyone:
        if person.pk == message.sender_id:
            return str(person.display_name)
    return ""


def summary(actor, request=None, *, with_threads=True):
    """``{"unread", "badge", "threads": [...]}`` for ``actor`` (the widget and JSON).

    Without ``with_threads`` it is the header total alone: one indexed query over the
    rows that have something unread, which is what pages poll and render."""
    if actor.is_anonymous:
        return {"unread": 0, "badge": "", "threads": []}
    total = selectors.unread_total(actor)
    if not with_threads:
        return {"unread": total, "badge": badge(total)}
    threads = []
    for row in selectors.inbox_page(actor, size=LATEST).rows:
        others = [p.display_name for p in row.everyone if p.pk != row.pk]
        threads.append(
            {
                "id": row.thread_id,
                "title": str(row.title),
                "url": reverse("wagtail_messenger:thread", args=[row.thread_id]),
                "unread": row.unread_count,
                "with": ", ".join(str(name) for name in others),
                "from": preview_author(row),
                "preview": preview(row.last_message if row.message_reached else None),
                "last_message_at": row.last_message_at.isoformat(),
            }
        )
    return {"unread": total, "badge": badge(total), "threads": threads}


@never_cache
@require_GET
def unread(request):
    """The total (``?threads=1`` adds the latest threads for the drop-down)."""
    with_threads = request.GET.get("threads") == "1"
    return JsonResponse(summary(Actor.from_request(request), request, with_threads=with_threads))
