"""A "Messenger alerts" panel in the Wagtail admin's account settings (Notifications
tab), where moderators opt in to an email when a message is reported or held as spam."""

from django import forms
from django.utils.translation import gettext_lazy as _
from wagtail.admin.views.account import BaseSettingsPanel, notifications_tab

from .actors import MODERATE_PERMISSION
from .models import ContactPreference
from .services import notifications


class ModerationAlertsForm(forms.Form):
    moderation_alerts = forms.BooleanField(
        label=ContactPreference._meta.get_field("moderation_alerts").verbose_name.capitalize(),
        required=False,
        help_text=_("An email when a message is reported or held as spam."),
    )

    def __init__(self, *args, instance, **kwargs):
        self.user = instance
        initial = {"moderation_alerts": notifications.wants_moderation_alerts(instance)}
        super().__init__(*args, initial=initial, **kwargs)

    def save(self):
        notifications.set_moderation_alerts(self.user, self.cleaned_data["moderation_alerts"])


class ModerationAlertsPanel(BaseSettingsPanel):
    name = "wagtail_messenger_alerts"
    title = _("Messenger moderation")
    tab = notifications_tab
    order = 300
    form_class = ModerationAlertsForm

    def is_active(self):
        return self.user.has_perm(MODERATE_PERMISSION)


def panel(request, user, profile):
    return ModerationAlertsPanel(request, user, profile)
