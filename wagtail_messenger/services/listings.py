"""Which pages are listings, and who receives messages about them.

Shared by the "Send message" button (``injection.py``), the compose view and contact
forms: ``recipient_for(page, request)`` is the one answer to "who is the seller?".
"""

from django.apps import apps
from django.contrib.auth.models import Group

from .. import hooks
from ..conf import get_setting
from ..models import ContactPreference
from .parties import Party
from .settings import for_site


def listing_models():
    models = []
    for label in get_setting("LISTING_MODELS"):
        try:
            models.append(apps.get_model(label))
        except (LookupError, ValueError):
            continue  # reported by the system check wagtail_messenger.E002
    return tuple(models)


def is_listing(page, request=None):
    """The hook ``IS_LISTING`` decides first, then ``page.messenger_is_listing``, then
    ``WAGTAILMESSENGER_LISTING_MODELS``."""
    if page is None:
        return False
    answer = hooks.first_answer(hooks.IS_LISTING, page, request)
    if answer is not None:
        return bool(answer)
    flag = getattr(page.specific_class or type(page), "messenger_is_listing", None)
    if flag is not None:
        return bool(flag)
    models = listing_models()
    page_class = page.specific_class or type(page)
    return bool(models) and issubclass(page_class, models)


AVAILABLE, RESERVED, SOLD = "available", "reserved", "sold"
LISTING_STATES = (AVAILABLE, RESERVED, SOLD)


def listing_state(page):
    """``"available"``, ``"reserved"`` or ``"sold"``: the hook ``LISTING_STATE`` first,
    then ``page.messenger_listing_state()``, else ``"available"``. An unknown answer
    counts as available (a typo must not lock buyers out)."""
    if page is None:
        return AVAILABLE
    state = hooks.first_answer(hooks.LISTING_STATE, page)
    if state is None:
        method = getattr(page.specific_deferred, "messenger_listing_state", None)
        state = method() if callable(method) else None
    return state if state in LISTING_STATES else AVAILABLE


def is_sold(page):
    return listing_state(page) == SOLD


def _usable(recipient):
    if recipient is None:
        return None
    if isinstance(recipient, Group):
        return recipient
    return recipient if getattr(recipient, "is_active", True) else None


def recipient_for(page, request=None, conf=None):
    """The ``User`` or ``Group`` (team inbox) who receives messages about ``page``:
    the hook ``LISTING_RECIPIENT``, then ``page.get_messenger_recipient()``, then the page
    owner, then the site's fallback recipient, then its fallback team. ``None`` when
    nobody is set (the button is not shown)."""
    recipient = _usable(hooks.first_answer(hooks.LISTING_RECIPIENT, page, request))
    if recipient is None and hasattr(page, "get_messenger_recipient"):
        recipient = _usable(page.get_messenger_recipient())
    if recipient is None and page.owner_id is not None:
        recipient = _usable(page.owner)
    if recipient is None:
        conf = conf or for_site(site=page.get_site(), request=request)
        recipient = _usable(conf.fallback_user) or conf.fallback_group
    return recipient


def recipient_party(page, request=None, conf=None):
    recipient = recipient_for(page, request, conf)
    return Party.for_recipient(recipient) if recipient is not None else None


def accepts_contact(recipient):
    """False when the recipient (a user) switched "allow others to contact me" off."""
    if recipient is None:
        return False
    if isinstance(recipient, Group):
        return True
    return not ContactPreference.objects.filter(user=recipient, allow_contact=False).exists()


def button_wanted(page, request, conf):
    """Whether ``page`` shows the "Send message" button on this site right now.

    The answer is the same for every visitor (pages may be cached): it depends only on
    the page (a sold listing shows none), the site settings and the seller's own switch."""
    if not (conf.enabled and conf.show_button):
        return False
    if not is_listing(page, request) or is_sold(page):
        return False
    return accepts_contact(recipient_for(page, request, conf))
