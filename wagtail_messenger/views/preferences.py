"""A person's own messenger switches: being contactable and email notifications."""

from django import forms
from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _

from ..exceptions import MessengerError
from ..frontend import render
from ..login import redirect_to_login
from ..models import ContactPreference, MessengerSettings
from ..services import privacy, safety
from ..services.settings import for_site


class PreferencesForm(forms.Form):
    allow_contact = forms.BooleanField(
        label=_("Allow others to contact me"),
        required=False,
        help_text=_(
            'When off, the "Send message" button disappears from your listings and nobody '
            "can start a new conversation with you. Conversations you already have go on."
        ),
    )
    email_frequency = forms.ChoiceField(
        label=_("Email me about new messages"),
        choices=ContactPreference.Frequency.choices,
        widget=forms.RadioSelect,
        help_text=_(
            "A daily summary lists the conversations with unread messages, once a day. "
            "You can also mute a single conversation from its page."
        ),
    )


def preferences(request):
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    current = safety.preferences_for(request.user)
    site_mode = for_site(request=request).notification_mode
    initial = {
        "allow_contact": current.allow_contact,
        # Somebody who never chose goes at the site's pace, shown as chosen.
        "email_frequency": current.email_frequency or site_mode,
    }
    data = request.POST if request.method == "POST" else None
    form = PreferencesForm(data, initial=initial)
    if site_mode == MessengerSettings.NotificationMode.NEVER:
        form.fields["email_frequency"].disabled = True
        form.fields["email_frequency"].help_text = _("This site sends no email notifications.")
    status = 200
    if request.method == "POST":
        if form.is_valid():
            values = dict(form.cleaned_data)
            if not current.email_frequency and values["email_frequency"] == site_mode:
                values["email_frequency"] = ""  # still the site's pace, if it changes
            try:
                safety.set_preferences(request.user, **values)
            except MessengerError as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, _("Your preferences were saved."))
                return redirect("wagtail_messenger:preferences")
        status = 400
    context = {"form": form, **privacy.page_context(user=request.user)}
    return render(request, "wagtail_messenger/preferences.html", context, status=status)
