"""Template tags for themes.

``{% load messenger_tags %}`` then:

- ``{% messenger_button page %}``: the "Send message" button exactly here; the automatic
  insertion stands down for that response.
- ``{% messenger_unread_widget %}``: "Messages (3)" for the header, with a drop-down of
  the latest threads loaded from the JSON endpoint (the floating badge, when the site
  turns it on, stands down for that response).
- ``{{ message.body|messenger_text }}``: plain text made safe: escaped, links made
  clickable (``rel="nofollow noopener noreferrer"``), line breaks kept, then passed
  through nh3's allow-list.
"""

from django import template

from .. import injection
from ..actors import Actor
from ..display import message_text
from ..services import listings
from ..services.settings import for_site
from ..views.account import badge

register = template.Library()


@register.simple_tag(takes_context=True)
def messenger_button(context, page=None):
    request = context.get("request")
    page = page or context.get("page")
    injection.mark_placed(request)
    if page is None:
        return ""
    conf = for_site(request=request) if request is not None else for_site(page.get_site())
    if not listings.button_wanted(page, request, conf):
        return ""
    return injection.render_button(page)


@register.inclusion_tag("wagtail_messenger/unread_widget.html", takes_context=True)
def messenger_unread_widget(context):
    """Server-rendered count for people who have conversations; ``unread.js`` keeps it
    fresh and fills the drop-down. Nothing is shown to anonymous visitors."""
    request = context.get("request")
    injection.mark_widget_placed(request)
    actor = Actor.from_request(request) if request is not None else Actor()
    if actor.is_anonymous:
        return {"show": False}
    from .. import selectors

    total = selectors.unread_total(actor)
    return {"show": True, "unread": total, "badge": badge(total), "request": request}


@register.filter(is_safe=True, needs_autoescape=True)
def messenger_text(value, autoescape=True):
    """A plain-text message as HTML: everything escaped, web addresses made into links,
    line breaks kept. Django's ``urlize`` escapes and links; nh3 then keeps only what
    this filter means to emit (``<a href rel>`` to http, https and mailto, and ``<br>``),
    so a mistake upstream cannot turn into markup."""
    return message_text(value)
