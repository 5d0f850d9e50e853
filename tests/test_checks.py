"""System checks, asserted id by id."""

from types import SimpleNamespace

from django.test import override_settings

from wagtail_messenger import checks


def ids(messages):
    return [m.id for m in messages]


def test_a_missing_required_app_is_named(settings, monkeypatch):
    # Overriding INSTALLED_APPS would reload the app registry; the check only reads the list.
    apps = [a for a in settings.INSTALLED_APPS if a != "wagtail.contrib.settings"]
    monkeypatch.setattr(checks, "settings", SimpleNamespace(INSTALLED_APPS=apps))
    messages = checks.check_installed_apps(None)
    assert ids(messages) == ["wagtail_messenger.E001"]
    assert "wagtail.contrib.settings" in messages[0].msg


def test_required_apps_present_is_quiet():
    assert checks.check_installed_apps(None) == []


@override_settings(WAGTAILMESSENGER_LISTING_MODELS=["marketplace.ListingPage", "nope.Missing"])
def test_listing_models_must_exist():
    messages = checks.check_listing_models(None)
    assert ids(messages) == ["wagtail_messenger.E002"]
    assert "nope.Missing" in messages[0].msg


@override_settings(WAGTAILMESSENGER_RATELIMIT_CACHE="absent")
def test_ratelimit_cache_alias_must_exist():
    assert ids(checks.check_ratelimit_cache(None)) == ["wagtail_messenger.E003"]


@override_settings(
    DEBUG=False, CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
)
def test_per_process_cache_in_production_is_a_warning():
    assert ids(checks.check_ratelimit_cache(None)) == ["wagtail_messenger.W001"]


@override_settings(
    DEBUG=False,
    CACHES={
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1",
        }
    },
)
def test_shared_cache_is_quiet():
    assert checks.check_ratelimit_cache(None) == []
