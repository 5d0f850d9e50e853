"""One wrapper for every front-end view (applied in ``urls.py``): private caching, and
a clear answer instead of a bare 500 when the database fails or the thread went away.

- Every answer is ``Cache-Control: private, no-store`` (Django's ``never_cache``
  headers: ``max-age=0, no-cache, no-store, must-revalidate, private``): inboxes,
  threads, compose and guest pages are one person's, and no shared cache or browser
  back-forward cache may keep them.
- A database error (the server is gone, a lock timed out, a deadlock) is logged and
  answered ``503`` with ``Retry-After``: a page, or JSON for the page's own fetch
  requests, saying to try again. The request's transaction is rolled back, so nothing
  it wrote is kept; the forms' idempotency keys make sending again safe.
- ``Http404`` (an unknown, foreign or malformed id) is the same page with ``404``.
- A row that disappeared half-way (a thread deleted by maintenance or a moderator
  between loading it and marking it read) is ``410 Gone`` when the thread no longer
  exists, else ``404``.

The page renders through :func:`~wagtail_messenger.frontend.render`; if that fails too
(the site's base template or a context processor needs the database), a standalone
template that needs neither the database nor the request is used.
"""

import functools
import logging

from django.core.exceptions import ObjectDoesNotExist
from django.db import DatabaseError, connections, router, transaction
from django.http import Http404, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _

from ..frontend import render
from .content import wants_json

logger = logging.getLogger("wagtail_messenger.views")

#: Seconds a client is asked to wait before retrying after a database error.
RETRY_AFTER = 30
TEMPLATE = "wagtail_messenger/error.html"
FALLBACK_TEMPLATE = "wagtail_messenger/error_fallback.html"


def private(view):
    """``never_cache`` headers on every answer of ``view``, and the error pages above."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            response = view(request, *args, **kwargs)
        except Http404:  # unknown, foreign or malformed ids: a page that says so
            response = not_found(request)
        except DatabaseError:
            logger.exception("Database error in %s %s", request.method, request.path)
            response = _gone_or(request, kwargs, unavailable)
            _roll_back()
        except ObjectDoesNotExist:
            logger.exception("A row disappeared during %s %s", request.method, request.path)
            response = _gone_or(request, kwargs, not_found)
            _roll_back()
        add_never_cache_headers(response)
        return response

    return wrapped


def unavailable(request):
    response = error_response(
        request,
        status=503,
        title=_("The site could not answer"),
        problem=_(
            "Our database did not answer in time. Nothing you sent in this request was "
            "kept: please try again in a minute. Sending a message again never sends it "
            "twice."
        ),
    )
    response["Retry-After"] = str(RETRY_AFTER)
    return response


def not_found(request):
    return error_response(
        request,
        status=404,
        title=_("Not found"),
        problem=_(
            "There is nothing here, or it is not yours to see: the link may be mistyped, "
            "or the conversation was deleted. Nothing was changed."
        ),
    )


def gone(request):
    return error_response(
        request,
        status=410,
        title=_("This conversation no longer exists"),
        problem=_(
            "It was deleted while you were reading or writing. Nothing was sent; your "
            "other conversations are in your inbox."
        ),
    )


def error_response(request, *, status, title, problem):
    if wants_json(request):
        return JsonResponse({"ok": False, "errors": [str(problem)]}, status=status)
    context = {"error_title": title, "problem": problem}
    try:
        return render(request, TEMPLATE, context, status=status)
    except Exception:  # the site's layout needed what just failed: the plain page
        logger.exception("The error page could not be rendered with the site's layout")
        return HttpResponse(render_to_string(FALLBACK_TEMPLATE, context), status=status)


def _roll_back():
    """Whatever the failed request wrote in an open transaction (``ATOMIC_REQUESTS``)
    is not committed."""
    for connection in connections.all(initialized_only=True):
        if connection.in_atomic_block:
            transaction.set_rollback(True, using=connection.alias)


def _gone_or(request, kwargs, otherwise):
    thread_id = kwargs.get("thread_id")
    if thread_id is None:
        return otherwise(request)
    from ..models import Thread

    try:
        alias = router.db_for_write(Thread)
        with transaction.atomic(using=alias):  # a savepoint: usable inside a broken one
            exists = Thread.objects.using(alias).filter(pk=thread_id).exists()
    except DatabaseError:
        return unavailable(request)
    return otherwise(request) if exists else gone(request)
