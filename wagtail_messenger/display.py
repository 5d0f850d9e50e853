"""What the lists of the messenger's pages show, worked out once per page.

A page shows 20 inbox rows or 20 messages; what they all share (an address pattern,
the time format of the reader's zone and language) is looked up once here rather than
once per row, and a message's text becomes safe HTML through one allow-listed path.
The markup itself is in the templates (``includes/inbox_row.html``,
``includes/message.html``), rendered through :mod:`wagtail_messenger.fragments`.
"""

import functools

import nh3
from django.conf import settings
from django.template.defaultfilters import linebreaksbr
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.formats import get_format
from django.utils.html import urlize
from django.utils.safestring import mark_safe
from django.utils.text import normalize_newlines
from django.utils.translation import get_language

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
