"""System checks (``manage.py check``), each with a stable id and a hint."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from .conf import get_setting


@register(Tags.compatibility)
def check_installed_apps(app_configs, **kwargs):
    errors = []
    needed = ["wagtail.contrib.settings", "wagtail", "django.contrib.sessions"]
    for app in needed:
        if app not in settings.INSTALLED_APPS:
            errors.append(
                Error(
                    f"wagtail_messenger needs '{app}' in INSTALLED_APPS.",
                    hint=f"Add '{app}' to INSTALLED_APPS.",
                    id="wagtail_messenger.E001",
                )
            )
    return errors


@register(Tags.compatibility)
def check_listing_models(app_configs, **kwargs):
    from django.apps import apps

    errors = []
    for label in get_setting("LISTING_MODELS"):
        try:
            apps.get_model(label)
        except (LookupError, ValueError):
            errors.append(
                Error(
                    f"WAGTAILMESSENGER_LISTING_MODELS names '{label}', which is not a model.",
                    hint="Use 'app_label.ModelName' of a Page subclass.",
                    id="wagtail_messenger.E002",
                )
            )
    return errors


@register(Tags.security)
def check_ratelimit_cache(app_configs, **kwargs):
    alias = get_setting("RATELIMIT_CACHE")
    caches = getattr(settings, "CACHES", {})
    backend = caches.get(alias, {}).get("BACKEND", "django.core.cache.backends.locmem.LocMemCache")
    if alias not in caches and alias != "default":
        return [
            Error(
                f"WAGTAILMESSENGER_RATELIMIT_CACHE is '{alias}', which is not in CACHES.",
                hint="Name a cache alias defined in CACHES.",
                id="wagtail_messenger.E003",
            )
        ]
    if not settings.DEBUG and backend.endswith(("LocMemCache", "DummyCache")):
        return [
            Warning(
                "Guest rate limits are kept in a per-process cache; with several processes "
                "each has its own count, and DummyCache counts nothing.",
                hint="Point WAGTAILMESSENGER_RATELIMIT_CACHE at a shared cache such as Redis.",
                id="wagtail_messenger.W001",
            )
        ]
    return []
