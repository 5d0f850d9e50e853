"""A person's own messenger switches: being contactable and email notifications."""

from django import forms
from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _

from ..exceptions import MessengerError
from ..frontend import render
from ..login import redirect_to_login
from ..services import privacy, safety


class PreferencesForm(forms.Form):
    allow_contact = forms.BooleanField(
        label=_("Allow others to contact me"),
        required=False,
        help_text=_(
            'When off, the "Send message" button disappears from your listings and nobody '
            "can start a new conversation with you. Conversations you already have go on."
        ),
    )
    email_notifications = forms.BooleanField(
        label=_("Email me about new messages"),
        required=False,
        help_text=_("You can also mute a single conversation from its page."),
    )


def preferences(request):
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    current = safety.preferences_for(request.user)
    initial = {name: getattr(current, name) for name in safety.PREFERENCE_FIELDS}
    data = request.POST if request.method == "POST" else None
    form = PreferencesForm(data, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            safety.set_preferences(request.user, **form.cleaned_data)
        except MessengerError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _("Your preferences were saved."))
            return redirect("wagtail_messenger:preferences")
    context = {"form": form, **privacy.page_context(user=request.user)}
    return render(request, "wagtail_messenger/preferences.html", context)
