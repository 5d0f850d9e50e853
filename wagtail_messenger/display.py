"""What the lists of the messenger's pages show, worked out once per page.

A page shows 20 inbox rows or 20 messages; what they all share (an address pattern,
the reader's zone, day and language) is looked up once here rather than
once per row, and a message's text becomes safe HTML through one allow-listed path.
The markup itself is in the templates (``includes/inbox_row.html``,
``includes/message.html``), rendered through :mod:`wagtail_messenger.fragments`.
"""

import functools
from datetime import timedelta

import nh3
from django.conf import settings
from django.template.defaultfilters import linebreaksbr
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.formats import get_format
from django.utils.html import urlize
from django.utils.safestring import mark_safe
from django.utils.text import normalize_newlines
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

#: The only elements :func:`text_to_html` emits.
MESSAGE_TAGS = {"a", "br"}


@functools.lru_cache(maxsize=512)
def text_to_html(text):
    """What the ``messenger_text`` filter prints for ``text``: escaped, web addresses
    linked (Django's ``urlize``), line breaks kept (``linebreaksbr``), then passed
    through nh3's allow-list, so a mistake upstream cannot turn into markup. A pure
    function of the text, so the last few hundred results are kept (a thread page and
    its polls show the same messages again and again)."""
    html = urlize(normalize_newlines(text), trim_url_limit=60, nofollow=True, autoescape=True)
    return nh3.clean(
        linebreaksbr(html, autoescape=False),
        tags=MESSAGE_TAGS,
        attributes={"a": {"href"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener noreferrer",
    )


def message_text(value):
    """A message's text as safe HTML (:func:`text_to_html`, escaped and allow-listed)."""
    return mark_safe(text_to_html(str(value or "")))  # noqa: S308 -- see text_to_html


def url_maker(name, *extra):
    """``reverse(name, args=[pk, *extra])`` for many primary keys at the cost of one
    reverse: the pages that list rows (20 messages, 20 threads) would otherwise reverse
    once per row and action."""
    marker = 987654321
    head, tail = reverse(name, args=[marker, *extra]).rsplit(str(marker), 1)
    return lambda pk: f"{head}{int(pk)}{tail}"


def time_maker():
    """``stamp(value) -> (machine, label, full)`` for many datetimes at the cost of one
    lookup of the reader's zone and language: the ISO form for ``<time datetime>``, the
    label people read (:func:`time_labels`) and the full date and time for its title.
    One format on every page: the inbox rows, the messages and the listing notes."""
    zone = timezone.get_current_timezone() if settings.USE_TZ else None
    language = get_language()
    now = timezone.now()
    today = (now.astimezone(zone) if zone is not None else now).date()

    def stamp(value):
        age = now - value
        # Within the hour the label counts minutes; beyond, it depends only on the day.
        minutes = max(0, int(age.total_seconds() // 60)) if age < timedelta(hours=1) else None
        return time_labels(value, zone, language, today, minutes)

    return stamp


@functools.lru_cache(maxsize=4096)
def time_labels(value, zone, language, today, minutes):
    """``(machine, label, full)`` of ``value`` in ``zone`` (``None``: naive, as stored
    without ``USE_TZ``) for a reader whose day is ``today``: "just now", "5 min ago"
    (``minutes`` old, within the hour), the time today, "yesterday 14:02", the weekday
    and time within the week, the day and month within the year, else the date, each in
    the locale's formats. A pure function of its arguments, kept for the last few
    thousand (formatting costs about 20 µs, most of it translating month names, and a
    page shows the same rows and messages on every view); ``language`` is part of the
    key, as the words depend on it."""
    local = value.astimezone(zone) if zone is not None and timezone.is_aware(value) else value
    clock = dateformat.time_format(local, get_format("TIME_FORMAT"))
    days = (today - local.date()).days
    if minutes is not None and minutes < 1:
        label = _("just now")
    elif minutes is not None:
        label = ngettext("%(count)d min ago", "%(count)d min ago", minutes) % {"count": minutes}
    elif days <= 0:
        label = clock
    elif days == 1:
        label = _("yesterday %(time)s") % {"time": clock}
    elif days < 7:
        weekday = dateformat.format(local, "l")
        label = _("%(weekday)s %(time)s") % {"weekday": weekday, "time": clock}
    elif local.year == today.year:
        label = dateformat.format(local, get_format("MONTH_DAY_FORMAT"))
    else:
        label = dateformat.format(local, get_format("DATE_FORMAT"))
    return local.isoformat(), label, dateformat.format(local, get_format("DATETIME_FORMAT"))
