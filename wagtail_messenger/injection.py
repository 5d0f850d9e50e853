"""The "Send message" button and the floating "Messages" badge, put into the site's pages
without theme edits.

:func:`serve_page_hook` is registered as an ``on_serve_page`` hook with a late ``order``,
so Wagtail's own view-restriction check (password, login, groups) wraps it and answers
first: a private listing never reaches this code until the visitor passed the check.
Only HTML 200 responses are touched; a ``TemplateResponse`` gets a post-render callback,
a plain response is changed at once.

Where the button goes, first match wins:

1. where the theme put ``{% messenger_button page %}`` (the automatic one stands down);
2. before the marker comment ``<!-- wagtail-messenger-button -->``;
3. inside the first element matching ``WAGTAILMESSENGER_BUTTON_CONTAINER`` (``"main"``,
   or ``"#id"``, ``".class"``, ``"tag.class"``, ``"tag#id"``), after its content;
4. otherwise as a floating button in a bottom corner (before ``</body>``).

The button's markup is the same for every visitor (pages and CDNs cache them): a link
to the plugin's compose URL, in a custom element whose styles live in its own shadow
root (``button.html``, like Wagtail's user bar), restyled through CSS custom properties.
The badge is per person and only inserted for people who have an inbox.
"""

import functools
import re

from django.http import HttpResponse
from django.template.loader import render_to_string
from django.template.response import TemplateResponse

from .conf import get_setting
from .services import listings
from .services.settings import for_site

MARKER = "<!-- wagtail-messenger-button -->"
#: Set on the request by ``{% messenger_button %}``: the theme placed the button itself.
PLACED_ATTR = "_wagtail_messenger_button_placed"
#: Set on the request by ``{% messenger_unread_widget %}``: the theme shows the count.
WIDGET_ATTR = "_wagtail_messenger_widget_placed"
#: The order the hook is registered with: after Wagtail's own hooks (order 0).
HOOK_ORDER = 100

BODY_END = re.compile(rb"</body\s*>", re.IGNORECASE)
SELECTOR_RE = re.compile(r"^(?P<tag>[a-zA-Z][\w-]*)?(?:(?P<kind>[#.])(?P<name>[\w-]+))?$")
ATTRIBUTE_RE = re.compile(rb"""([^\s=/>]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]+))?""")
# Comments, scripts and styles are skipped whole: a "<div" inside them is not a tag.
OPAQUE = rb"<!--.*?-->|<script\b.*?</script\s*>|<style\b.*?</style\s*>"


def mark_placed(request):
    if request is not None:
        setattr(request, PLACED_ATTR, True)


def mark_widget_placed(request):
    if request is not None:
        setattr(request, WIDGET_ATTR, True)


def render_button(page, floating=False):
    """The user-neutral button markup for ``page``."""
    return render_to_string(
        "wagtail_messenger/button.html", {"listing_page": page, "floating": floating}
    )


# -- finding the place in the HTML -------------------------------------------------------


def parse_selector(selector):
    """``(tag, attribute, value)`` of a simple selector, ``None`` parts left open; a
    ``ValueError`` for anything else (the system check reports it)."""
    match = SELECTOR_RE.match((selector or "").strip())
    if not match or not (match["tag"] or match["name"]):
        raise ValueError(f"{selector!r} is not a tag, #id, .class, tag#id or tag.class")
    attribute = {"#": "id", ".": "class", None: None}[match["kind"]]
    return (match["tag"] or "").lower() or None, attribute, match["name"]


def _matches(attributes, attribute, value):
    if attribute is None:
        return True
    for name, raw in ATTRIBUTE_RE.findall(attributes or b""):
        if name.lower().decode("ascii", "replace") != attribute:
            continue
        found = raw.strip(b"\"'").decode("utf-8", "replace")
        return value in found.split() if attribute == "class" else found == value
    return False


@functools.lru_cache(maxsize=32)
def _start_tags(tag, value):
    """A pattern for the start tags that may match: those of ``tag``, or else those
    whose attributes mention ``value``; comments, scripts and styles are skipped."""
    name = re.escape(tag.encode()) if tag else rb"[a-zA-Z][\w-]*"
    attributes = (
        rb"(\s[^>]*)?"
        if tag or not value
        else rb"(\s[^>]*" + re.escape(value.encode()) + rb"[^>]*)"
    )
    return re.compile(
        OPAQUE + rb"|<(" + name + rb")" + attributes + rb">", re.IGNORECASE | re.DOTALL
    )


def container_end(content, selector):
    """Where the first element matching ``selector`` closes in ``content`` (bytes): the
    offset of its end tag, so what is inserted there comes after its content. ``None``
    when there is no such element, or it never closes."""
    tag, attribute, value = parse_selector(selector)
    if value and value.encode() not in content:
        return None
    for match in _start_tags(tag, value).finditer(content):
        name = match.group(1)
        if name is None:  # a comment, script or style
            continue
        if _matches(match.group(2), attribute, value):
            if match.group(0).endswith(b"/>"):
                return None
            return _closing_tag(content, name.lower().decode("ascii"), match.end())
    return None


def _closing_tag(content, name, start):
    tags = re.compile(
        OPAQUE + rb"|<(/?)" + re.escape(name.encode()) + rb"\b[^>]*>", re.IGNORECASE | re.DOTALL
    )
    depth = 1
    for match in tags.finditer(content, start):
        if match.group(1) is None:
            continue
        depth += -1 if match.group(1) else 1
        if depth == 0:
            return match.start()
    return None


def insert_button(content, button, floating_button, selector):
    """``content`` (bytes) with the button placed (see the module docstring); ``None``
    when the document has no place for it (not a full HTML page: left alone).
    ``floating_button`` is called only when the floating variant is needed."""
    position = content.find(MARKER.encode())
    markup = button
    if position < 0:
        try:
            position = container_end(content, selector)
        except ValueError:  # a bad WAGTAILMESSENGER_BUTTON_CONTAINER (check W032)
            position = None
    if position is None:
        position = _body_end(content)
        markup = floating_button()
    if position is None:
        return None
    return content[:position] + markup + content[position:]


def insert_before_body_end(content, markup):
    position = _body_end(content)
    if position is None:
        return None
    return content[:position] + markup + content[position:]


def _body_end(content):
    ends = list(BODY_END.finditer(content))
    return ends[-1].start() if ends else None


# -- the response hook -------------------------------------------------------------------


def is_html_ok(response):
    content_type = response.get("Content-Type", "")
    return response.status_code == 200 and content_type.split(";")[0].strip() == "text/html"


def badge_markup(request, conf):
    """The floating badge for whoever asked, or ``None`` when it is not for them."""
    if not (conf.enabled and conf.show_unread_badge) or getattr(request, WIDGET_ATTR, False):
        return None
    from . import selectors
    from .actors import Actor
    from .views.account import badge

    actor = Actor.from_request(request)
    if actor.is_anonymous:
        return None
    total = selectors.unread_total(actor)
    return render_to_string(
        "wagtail_messenger/badge.html", {"unread": total, "badge": badge(total)}, request
    )


def decorate(page, request, response):
    """Arrange for ``response`` to carry the button and the badge where they apply."""
    if not isinstance(response, HttpResponse) or getattr(response, "streaming", False):
        return response
    conf = for_site(request=request)
    wants_button = listings.button_wanted(page, request, conf)
    if not (wants_button or (conf.enabled and conf.show_unread_badge)):
        return response

    def insert(rendered):
        if not is_html_ok(rendered):
            return None
        charset = rendered.charset or "utf-8"
        content = rendered.content
        if wants_button and not getattr(request, PLACED_ATTR, False):
            changed = insert_button(
                content,
                render_button(page).encode(charset),
                lambda: render_button(page, floating=True).encode(charset),
                get_setting("BUTTON_CONTAINER"),
            )
            content = changed if changed is not None else content
        badge = badge_markup(request, conf)
        if badge is not None:
            content = insert_before_body_end(content, badge.encode(charset)) or content
        if content is not rendered.content:
            rendered.content = content
        return None

    if isinstance(response, TemplateResponse) and not response.is_rendered:
        response.add_post_render_callback(insert)
    else:
        insert(response)
    return response


def serve_page_hook(next_serve):
    """The ``on_serve_page`` wrapper (see the module docstring)."""

    def serve(page, request, serve_args, serve_kwargs):
        response = next_serve(page, request, serve_args, serve_kwargs)
        return decorate(page, request, response)

    return serve
