"""The answer to a request over a rate limit: ``429 Too Many Requests`` with a
``Retry-After`` header, as a page (``rate_limited.html``) or, for the fetch/AJAX paths,
as JSON ``{"ok": false, "error": ..., "errors": [...], "retry_after": seconds}``."""

from django.http import JsonResponse
from django.utils.translation import ngettext

from ..frontend import render


def wait_label(seconds):
    """ "3 minutes", "1 hour": how long to wait, rounded up to what a person reads."""
    if seconds < 120:
        return ngettext("%(count)d second", "%(count)d seconds", seconds) % {"count": seconds}
    if seconds < 2 * 3600:
        minutes = -(-seconds // 60)
        return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}
    hours = -(-seconds // 3600)
    return ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}


def rate_limited(request, error, *, json=False, context=None):
    """The 429 answer for :class:`~wagtail_messenger.exceptions.RateLimited` ``error``;
    nothing was saved or sent."""
    seconds = max(1, int(getattr(error, "retry_after", 60)))
    if json:
        response = JsonResponse(
            {"ok": False, "error": str(error), "errors": [str(error)], "retry_after": seconds},
            status=429,
        )
    else:
        page = {**(context or {}), "problem": str(error), "retry_after": seconds}
        page["wait"] = wait_label(seconds)
        response = render(request, "wagtail_messenger/rate_limited.html", page, status=429)
    response["Retry-After"] = str(seconds)
    return response
