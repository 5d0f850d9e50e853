from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WagtailMessengerConfig(AppConfig):
    name = "wagtail_messenger"
    label = "wagtail_messenger"
    verbose_name = _("Messenger")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import checks, signal_handlers  # noqa: F401  (registers checks and handlers)
