from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WagtailMessengerConfig(AppConfig):
    name = "wagtail_messenger"
    label = "wagtail_messenger"
    verbose_name = _("Messenger")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Checks, signal handlers, and the tasks the services enqueue by name (queue.py).
        from . import checks, signal_handlers, tasks  # noqa: F401

        try:
            import anymail  # noqa: F401
        except ImportError:  # reply by email and bounce handling need the "email" extra
            pass
        else:
            from . import anymail_handlers  # noqa: F401
