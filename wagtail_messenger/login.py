"""Where people log in: a page that exists on every Wagtail site.

In this order: ``WAGTAIL_FRONTEND_LOGIN_URL`` (Wagtail's own setting for the front-end
login of private pages), then ``LOGIN_URL`` when the project set it, then Wagtail's
built-in front-end login view ``wagtailcore_login`` (``/_util/login/`` under the site's
Wagtail URLs), which every site that includes ``wagtail.urls`` has. Django's default
``LOGIN_URL`` (``/accounts/login/``) is never used on its own: most Wagtail sites do not
serve it.
"""

from django.conf import settings
from django.contrib.auth.views import redirect_to_login as django_redirect_to_login
from django.shortcuts import resolve_url
from django.urls import NoReverseMatch, reverse
from django.utils.http import urlencode


def login_page():
    """The login page's URL, without ``?next=``."""
    configured = getattr(settings, "WAGTAIL_FRONTEND_LOGIN_URL", None)
    if not configured and settings.is_overridden("LOGIN_URL"):
        configured = getattr(settings, "LOGIN_URL", None)
    if configured:
        return resolve_url(configured)
    try:
        return reverse("wagtailcore_login")
    except NoReverseMatch:  # the site does not include wagtail.urls (unusual)
        return reverse("wagtailadmin_login")


def login_url(next_path=None):
    """The login page's URL, coming back to ``next_path`` afterwards."""
    page = login_page()
    if not next_path:
        return page
    separator = "&" if "?" in page else "?"
    return f"{page}{separator}{urlencode({'next': next_path})}"


def redirect_to_login(next_path):
    """A redirect to :func:`login_page`, back to ``next_path`` after logging in."""
    return django_redirect_to_login(next_path, login_url=login_page())
