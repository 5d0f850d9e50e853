"""The "stop emails about this conversation" link of notification emails.

``GET /messages/mute/<token>/`` shows a confirmation page with a button and changes
nothing: mail scanners and link previews follow every link in an email, and must not mute
anybody's thread. Two ``POST`` requests mute the thread for the participant the signed
token names:

- RFC 8058 one-click unsubscribe, which mail clients send themselves (the
  ``List-Unsubscribe`` and ``List-Unsubscribe-Post`` headers): the body must be
  ``List-Unsubscribe=One-Click``, and no CSRF token is asked for;
- the page's button: an ordinary form, CSRF-checked like every other form.

Any other ``POST`` (no body, a forged cross-site form) is refused with 403.
"""

from django.middleware.csrf import CsrfViewMiddleware
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from ..exceptions import InvalidLink
from ..frontend import page_context
from ..services import notifications

TEMPLATE = "wagtail_messenger/mute.html"


ONE_CLICK = "One-Click"


def is_one_click(request):
    return request.POST.get("List-Unsubscribe") == ONE_CLICK


def csrf_refusal(request):
    """The CSRF middleware's answer for a form POST without a valid token, or ``None``."""
    return CsrfViewMiddleware(lambda request: None).process_view(request, None, (), {})


# csrf_exempt so that RFC 8058 one-click requests, POSTed by mail clients and providers
# (body "List-Unsubscribe=One-Click") without a CSRF cookie or token, get through: their
# credential is the signed token in the URL. Every other POST is CSRF-checked here.
@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def mute(request, token):
    try:
        participant = notifications.participant_for_mute_token(token)
    except InvalidLink as error:
        response = TemplateResponse(
            request, TEMPLATE, {**page_context(request), "error": error}, status=404
        )
    else:
        if request.method == "POST" and not is_one_click(request):
            refusal = csrf_refusal(request)
            if refusal is not None:
                return refusal
        if request.method == "POST":
            notifications.mute(participant)
        context = {
            **page_context(request),
            "participant": participant,
            "thread": participant.thread,
            "muted": participant.muted,
        }
        response = TemplateResponse(request, TEMPLATE, context)
    # The token is in this page's URL: links on the page must not pass it on.
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    return response
