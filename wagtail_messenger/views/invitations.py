"""Claiming the threads a contact form sent to an address that had no account.

The invitation email links to ``claim/<token>/``. Opening it proves the address: the view
keeps the proven address in the session and redirects to ``claim/``, so the token leaves
the address bar (and browser history, and Referer headers). There a visitor who is not
logged in is asked to log in or create an account, with ``next`` pointing back to
``claim/``; once logged in, the waiting threads become theirs.
"""

from django.contrib import messages
from django.shortcuts import redirect, resolve_url
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from ..conf import get_setting
from ..exceptions import InvalidLink
from ..frontend import render
from ..login import login_url
from ..services import invitations

CLAIM_SESSION_KEY = "wagtail_messenger_claim"


@never_cache
@require_http_methods(["GET", "HEAD"])
def claim_link(request, token):
    """The link from the invitation email: prove the address, then drop the token.
    ``HEAD`` (mail scanners) checks the link and writes nothing, not even a session."""
    read_only = request.method == "HEAD"
    try:
        row = invitations.check(token) if read_only else invitations.redeem(token)
    except InvalidLink as error:
        response = render(
            request,
            "wagtail_messenger/claim_invalid.html",
            {"error": str(error), "login_url": login_url(reverse("wagtail_messenger:inbox"))},
            status=404,
        )
        response["Referrer-Policy"] = "no-referrer"
        return response
    if not read_only:
        request.session[CLAIM_SESSION_KEY] = {"email": row.email, "thread": row.thread_id}
    response = redirect("wagtail_messenger:claim")
    response["Referrer-Policy"] = "no-referrer"
    return response


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def claim(request):
    pending = request.session.get(CLAIM_SESSION_KEY)
    if not pending:
        if request.user.is_authenticated:
            return redirect("wagtail_messenger:inbox")
        return render(
            request,
            "wagtail_messenger/claim_invalid.html",
            {
                "error": _("Open the link from your invitation email to read your messages."),
                "login_url": login_url(reverse("wagtail_messenger:inbox")),
            },
            status=404,
        )
    here = reverse("wagtail_messenger:claim")
    context = {"email": pending["email"]}
    if not request.user.is_authenticated:
        context["login_url"] = login_url(here)
        context["signup_url"] = _signup_url(here, pending["email"])
        return render(request, "wagtail_messenger/claim.html", context)
    if request.method != "POST":
        # Logged in: confirm with a button (a POST with CSRF), so a link alone never
        # changes which account the conversations belong to.
        return render(request, "wagtail_messenger/claim.html", context)
    thread_ids = invitations.claim(request.user, pending["email"])
    del request.session[CLAIM_SESSION_KEY]
    if not thread_ids:
        messages.info(request, _("There were no waiting messages left to add."))
        return redirect("wagtail_messenger:inbox")
    messages.success(
        request,
        _("The messages sent to %(email)s are now in your inbox.") % {"email": pending["email"]},
    )
    target = pending.get("thread")
    return redirect("wagtail_messenger:thread", target if target in thread_ids else thread_ids[-1])


def _signup_url(next_path, email):
    signup = get_setting("SIGNUP_URL")
    if not signup:
        return ""
    return f"{resolve_url(signup)}?{urlencode({'next': next_path, 'email': email})}"
