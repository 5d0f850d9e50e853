"""The "stop emails about this conversation" link of notification emails.

``GET /messages/mute/<token>/`` shows a confirmation page with a button and changes
nothing: mail scanners and link previews follow every link in an email, and must not mute
anybody's thread. ``POST`` mutes the thread for the participant the signed token names;
mail clients send that POST themselves for RFC 8058 one-click unsubscribe (the
``List-Unsubscribe`` and ``List-Unsubscribe-Post`` headers).
"""

from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from ..exceptions import InvalidLink
from ..frontend import page_context
from ..services import notifications

TEMPLATE = "wagtail_messenger/mute.html"


# csrf_exempt, and only here: RFC 8058 one-click requests are POSTed by mail clients and
# providers (body "List-Unsubscribe=One-Click"), which have no CSRF cookie or token. The
# credential is the signed token in the URL, which only the email's recipient has; a
# forged cross-site POST would need that token, so CSRF protection adds nothing. The
# view can only mute one thread for the one participant the token names.
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
