"""Personal data in the admin: a moderator produces a person's data export (the same
zip the person gets), audit-logged, and downloads it (only the moderator who produced
it, until it expires)."""

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_safe
from wagtail.log_actions import log

from ..actors import normalise_email
from ..models import DataExport
from ..services import moderation, privacy
from .privacy import export_response


class PersonForm(forms.Form):
    person = forms.CharField(
        label=gettext_lazy("Username or email address"),
        max_length=254,
        help_text=gettext_lazy(
            "An account (by username or email) or a guest (by the email they wrote with)."
        ),
    )

    def clean_person(self):
        value = self.cleaned_data["person"].strip()
        User = get_user_model()
        field = User.USERNAME_FIELD
        user = User.objects.filter(**{field: value}).first()
        if user is None and "@" in value:
            user = User.objects.filter(email__iexact=value).first()
        if user is not None:
            return user, ""
        email = normalise_email(value)
        if "@" not in email or not privacy.rows_to_erase(email=email).exists():
            raise forms.ValidationError(_("No account or guest conversation has this name."))
        return None, email


def _require_moderator(request):
    if not moderation.is_moderator(request.user):
        raise PermissionDenied


def index(request):
    _require_moderator(request)
    form = PersonForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user, email = form.cleaned_data["person"]
        export = privacy.request_export(user=user, email=email, requested_by=request.user)
        who = user.get_username() if user is not None else email
        log(export, privacy.ADMIN_EXPORT, user=request.user, data={"who": who})
        messages.success(
            request,
            _("The data of %(who)s is being prepared; it appears below when ready.") % {"who": who},
        )
        return redirect("messenger_privacy:index")
    exports = DataExport.objects.filter(
        requested_by=request.user, expires_at__gt=timezone.now()
    ).select_related("user")
    return TemplateResponse(
        request,
        "wagtail_messenger/admin/personal_data.html",
        {"form": form, "exports": exports.order_by("-created_at")},
        status=400 if form.errors else 200,
    )


@require_safe
def download(request, pk):
    _require_moderator(request)
    export = DataExport.objects.filter(pk=pk).first()
    if export is None or not privacy.is_owner(export, user=request.user) or not export.is_ready:
        raise Http404
    return export_response(export)
