"""A person's data: "download my data" (export), the download of the zip, and a guest's
erase request (``services.privacy``). Signed-in people reach it from their preferences
page, guests through the session their private link opened."""

from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from ..actors import GUEST_SESSION_KEY, Actor
from ..exceptions import RateLimited
from ..frontend import render
from ..login import redirect_to_login
from ..models import DataExport
from ..services import privacy
from ..storage import storage_errors
from .limited import rate_limited


def _person(request):
    """``(user, guest_email)`` of the request, or ``(None, "")``."""
    actor = Actor.from_request(request)
    return actor.user, actor.guest_email


@never_cache
@require_safe
def your_data(request):
    """The "Your data" page: exports being prepared or ready, the button that asks for
    one and, for a guest, the erase request."""
    user, email = _person(request)
    if user is None and not email:
        return redirect_to_login(request.get_full_path())
    return render(
        request,
        "wagtail_messenger/privacy/your_data.html",
        privacy.page_context(user=user, email=email),
    )


@never_cache
@require_POST
def request_export(request):
    user, email = _person(request)
    if user is None and not email:
        return redirect_to_login(request.get_full_path())
    try:
        privacy.request_export(user=user, email=email)
    except RateLimited as error:
        return rate_limited(request, error)
    messages.success(
        request,
        _(
            "Your data is being prepared. We will email you a download link when it is "
            "ready; it also appears on this page."
        ),
    )
    return redirect(
        "wagtail_messenger:preferences" if user is not None else "wagtail_messenger:your_data"
    )


def export_response(export):
    """The zip of ``export`` as a download (the caller checked who may have it)."""
    try:
        handle = export.file.open("rb")
    except FileNotFoundError:
        raise Http404
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=f"messages-{export.created_at:%Y-%m-%d}.zip",
        content_type="application/zip",
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Referrer-Policy"] = "no-referrer"
    return response


@never_cache
@require_safe
def download_export(request, export_id):
    """Only the person the export is of (or the moderator who produced it), before it
    expires; anybody else gets 404, as for an unknown export."""
    user, email = _person(request)
    if user is None and not email:
        return redirect_to_login(request.get_full_path())
    export = DataExport.objects.filter(pk=export_id).first()
    if export is None:
        raise Http404
    if not privacy.is_owner(export, user=user, guest_email=email):
        raise Http404
    if export.is_expired or not export.is_ready:
        problem = (
            _("This download has expired. You can ask for your data again.")
            if export.is_expired
            else _("Your data is still being prepared. Please try again in a few minutes.")
        )
        return render(
            request,
            "wagtail_messenger/problem.html",
            {"problem": problem},
            status=410 if export.is_expired else 409,
        )
    try:
        return export_response(export)
    except storage_errors():
        problem = _("The file cannot be downloaded right now. Please try again later.")
        return render(request, "wagtail_messenger/problem.html", {"problem": problem}, status=503)


@never_cache
def erase(request):
    """A guest's erase request: ``GET`` shows what it does and asks to confirm, ``POST``
    (CSRF-checked) erases. Accounts are erased by deleting the account."""
    user, email = _person(request)
    if user is not None:
        problem = _(
            "Your conversations are erased when you delete your account. To do it now, "
            "delete your account or write to the site's team."
        )
        return render(request, "wagtail_messenger/problem.html", {"problem": problem}, status=400)
    if not email:
        problem = _(
            "Open the private link we emailed you first: it shows that the address is yours."
        )
        return render(request, "wagtail_messenger/problem.html", {"problem": problem}, status=403)
    if request.method == "POST":
        privacy.erase_guest_confirmed(email)
        request.session.pop(GUEST_SESSION_KEY, None)
        request.session.cycle_key()
        return render(request, "wagtail_messenger/privacy/erased.html")
    if request.method not in ("GET", "HEAD"):
        problem = _("This page only takes a confirmation.")
        return render(request, "wagtail_messenger/problem.html", {"problem": problem}, status=405)
    return render(request, "wagtail_messenger/privacy/erase_confirm.html", {"email": email})
