"""System checks, asserted id by id."""

import re
from types import SimpleNamespace

import pytest
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


# -- the plugin's pages in the site's theme ----------------------------------------------


def theme(tmp_path, settings, **templates):
    for name, text in templates.items():
        (tmp_path / name).write_text(text)
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [str(tmp_path), *settings.TEMPLATES[0]["DIRS"]]}
    ]


def test_a_base_template_with_a_content_block_is_quiet(tmp_path, settings):
    theme(tmp_path, settings, **{"base.html": "<main>{% block content %}{% endblock %}</main>"})
    assert checks.check_base_template(None) == []


def test_a_base_template_that_does_not_exist_is_named(settings):
    settings.WAGTAILMESSENGER_BASE_TEMPLATE = "layouts/site.html"
    messages = checks.check_base_template(None)
    assert ids(messages) == ["wagtail_messenger.W030"]
    assert "'layouts/site.html' does not exist" in messages[0].msg


def test_a_base_template_without_blocks_is_named_with_what_it_has(tmp_path, settings):
    theme(
        tmp_path,
        settings,
        **{
            "site.html": "<title>{% block head_title %}{% endblock %}</title>",
            "base.html": '{% extends "site.html" %}{% block sidebar %}{% endblock %}',
        },
    )
    messages = checks.check_base_template(None)
    assert ids(messages) == ["wagtail_messenger.W031"]
    assert "has none of the blocks content, main" in messages[0].msg
    assert "(it has: head_title, sidebar)" in messages[0].msg  # the parent's blocks too
    assert "WAGTAILMESSENGER_CONTENT_BLOCK" in messages[0].hint


def test_a_base_template_extending_a_computed_parent_is_trusted(tmp_path, settings):
    # Which blocks it has is known only at render time: the settings are believed.
    theme(tmp_path, settings, **{"base.html": "{% extends site_layout %}"})
    assert checks.check_base_template(None) == []


def test_a_named_content_block_must_exist(tmp_path, settings):
    theme(tmp_path, settings, **{"base.html": "{% block content %}{% endblock %}"})
    settings.WAGTAILMESSENGER_CONTENT_BLOCK = "page_body"
    messages = checks.check_base_template(None)
    assert ids(messages) == ["wagtail_messenger.W031"]
    assert "has no block 'page_body'" in messages[0].msg


def test_button_container_must_be_a_simple_selector(settings):
    assert checks.check_button_container(None) == []
    settings.WAGTAILMESSENGER_BUTTON_CONTAINER = "main > .card"
    messages = checks.check_button_container(None)
    assert ids(messages) == ["wagtail_messenger.W032"]
    assert "'main > .card'" in messages[0].msg


# -- background tasks and optional dependencies -------------------------------------------


class DjangoTasksBackend:
    """Stands for a backend of Django 6's django.tasks (not a django_tasks backend)."""


def test_a_django_tasks_worker_backend_on_django_6_is_an_error(settings, monkeypatch):
    import django

    monkeypatch.setattr(django, "VERSION", (6, 0, 0, "final", 0))
    settings.TASKS = {"default": {"BACKEND": f"{__name__}.DjangoTasksBackend"}}
    messages = checks.check_task_backend(None)
    assert ids(messages) == ["wagtail_messenger.E004"]
    assert 'pip install "wagtail-messenger[worker]"' in messages[0].hint
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    assert checks.check_task_backend(None) == []  # the [worker] extra's version


def test_s3_storage_without_the_s3_extra_names_the_extra(settings, monkeypatch):
    import sys

    settings.STORAGES = {
        **settings.STORAGES,
        "wagtail_messenger": {"BACKEND": "wagtail_messenger.storage.PrivateS3Storage"},
    }
    assert checks.check_s3_extra(None) == []  # installed here
    monkeypatch.setitem(sys.modules, "storages.backends.s3", None)  # as if it were not
    messages = checks.check_s3_extra(None)
    assert ids(messages) == ["wagtail_messenger.E005"]
    assert messages[0].hint == 'pip install "wagtail-messenger[s3]"'
    assert checks.check_attachment_storage(None) == []  # no second message about it


def test_private_s3_storage_without_the_extra_says_what_to_install(monkeypatch):
    from wagtail_messenger import storage
    from wagtail_messenger.exceptions import MissingExtra

    monkeypatch.delattr(storage, "PrivateS3Storage")
    with pytest.raises(MissingExtra, match=re.escape("pip install 'wagtail-messenger[s3]'")):
        storage.PrivateS3Storage  # noqa: B018
