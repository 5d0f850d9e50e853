"""The "Send message" button, put into listing pages without theme edits.

:func:`serve_page_hook` is registered as an ``on_serve_page`` hook with a late ``order``,
so Wagtail's own view-restriction check (password, login, groups) wraps it and answers
first: a private listing never reaches this code until the visitor passed the check.

For listing pages it adds a post-render callback to the page's ``TemplateResponse`` that
inserts the button before the marker comment ``<!-- wagtail-messenger-button -->`` when
the theme has one, else before ``</body>``. Only HTML 200 responses are touched. The
inserted markup is the same for every visitor (pages and CDNs cache them): a link to the
plugin's compose URL, which builds the form for whoever opens it.

Themes that place the button themselves with ``{% messenger_button page %}`` switch the
automatic insertion off for that response.
"""

import re

from django.template.loader import render_to_string
from django.template.response import TemplateResponse

from .services import listings
from .services.settings import for_site

MARKER = "<!-- wagtail-messenger-button -->"
#: Set on the request by ``{% messenger_button %}``: the theme placed the button itself.
PLACED_ATTR = "_wagtail_messenger_button_placed"
#: The order the hook is registered with: after Wagtail's own hooks (order 0).
HOOK_ORDER = 100

BODY_END = re.compile(rb"</body\s*>", re.IGNORECASE)


def mark_placed(request):
    if request is not None:
        setattr(request, PLACED_ATTR, True)


def render_button(page):
    """The user-neutral button markup for ``page``."""
    return render_to_string("wagtail_messenger/button.html", {"listing_page": page})


def insert_markup(content, markup):
    """``content`` (bytes) with ``markup`` (bytes) before the marker or ``</body>``;
    ``None`` when the document has neither (not a full HTML page: left alone)."""
    marker = MARKER.encode()
    position = content.find(marker)
    if position < 0:
        ends = list(BODY_END.finditer(content))
        if not ends:
            return None
        position = ends[-1].start()
    return content[:position] + markup + content[position:]


def is_html_ok(response):
    content_type = response.get("Content-Type", "")
    return response.status_code == 200 and content_type.split(";")[0].strip() == "text/html"


def add_button(page, request, response):
    """Arrange for ``response`` (about to be rendered) to carry the button."""
    if not isinstance(response, TemplateResponse) or getattr(response, "streaming", False):
        return response
    conf = for_site(request=request)
    if not listings.button_wanted(page, request, conf):
        return response

    def insert(rendered):
        if getattr(request, PLACED_ATTR, False) or not is_html_ok(rendered):
            return None
        charset = rendered.charset or "utf-8"
        changed = insert_markup(rendered.content, render_button(page).encode(charset))
        if changed is not None:
            rendered.content = changed
        return None

    response.add_post_render_callback(insert)
    return response


def serve_page_hook(next_serve):
    """The ``on_serve_page`` wrapper (see the module docstring)."""

    def serve(page, request, serve_args, serve_kwargs):
        response = next_serve(page, request, serve_args, serve_kwargs)
        return add_button(page, request, response)

    return serve
