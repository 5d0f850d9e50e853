"""Guests: the private-link landing page and "lost your link?".

The landing page redeems the token, keeps the proven email in the session and redirects
to the thread, so the token leaves the address bar (and browser history, referrers and
shared screenshots) after its first use. Opening the link is also what confirms an
address a guest typed in the compose form (``Participant.email_verified``).
"""

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from ..actors import GUEST_SESSION_KEY, normalise_email
from ..exceptions import InvalidLink, RateLimited
from ..forms import RequestLinkForm
from ..frontend import render
from ..services import guests, ratelimit
from ..services.settings import for_site
from .limited import rate_limited


def no_referrer(response):
    response["Referrer-Policy"] = "no-referrer"
    return response


@never_cache
@require_safe
def guest_link(request, token):
    """``GET`` lets the link's holder in: the session keeps the proven address, the
    thread's guest row of that address is confirmed, a logged-in owner of the address
    gets the guest threads in their inbox. ``HEAD`` (mail scanners, link previews)
    checks the link and writes nothing, not even a session."""
    read_only = request.method == "HEAD"
    try:
        row = guests.check(token) if read_only else guests.redeem(token)
    except InvalidLink as error:
        response = render(
            request,
            "wagtail_messenger/guest_link_invalid.html",
            {"problem": str(error), "form": RequestLinkForm()},
            status=410,
        )
        return no_referrer(response)
    target = row.thread.get_absolute_url() if row.thread_id else reverse("wagtail_messenger:inbox")
    if read_only:
        return no_referrer(redirect(target))
    user = request.user if request.user.is_authenticated else None
    if user is not None and normalise_email(user.email) != row.email:
        messages.warning(
            request,
            _("This link was sent to another email address. Log out to open it as a guest."),
        )
        return no_referrer(redirect("wagtail_messenger:inbox"))
    if request.session.get(GUEST_SESSION_KEY) != row.email:
        request.session.cycle_key()  # a new session id for the newly proven identity
    request.session[GUEST_SESSION_KEY] = row.email
    if user is not None:
        guests.claim_guest_threads(user, row.email)
    return no_referrer(redirect(target))


@never_cache
def request_link(request):
    """Emails fresh links to an address that has guest conversations. The answer is the
    same whether or not it has any, so the form reveals nothing about who wrote here."""
    form = RequestLinkForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = normalise_email(form.cleaned_data["email"])
        conf = for_site(request=request)
        try:
            ratelimit.check_link_requests(conf, ip=ratelimit.client_ip(request))
        except RateLimited as error:
            return rate_limited(request, error)
        else:
            # Over the day's cap for this address nothing more is sent, and the answer
            # stays the same: it says nothing about the address either way.
            if ratelimit.link_email_allowed(conf, email) and guests.guest_threads(email).exists():
                guests.send_link_on_commit(email)
            messages.success(
                request,
                _(
                    "If this address has conversations here, a new private link is on its "
                    "way. It can take a few minutes; check your spam folder too."
                ),
            )
            return redirect("wagtail_messenger:request_link")
    return render(request, "wagtail_messenger/request_link.html", {"form": form})
