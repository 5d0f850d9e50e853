"""The per-site settings panel (Settings → Messenger): tabs, help text on every field,
saving, validation, and who may see it."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction
from django.urls import reverse
from django.utils.html import escape

from wagtail_messenger.models import MessengerSettings
from wagtail_messenger.services.settings import for_site


def edit_url(site):
    return reverse("wagtailsettings:edit", args=["wagtail_messenger", "messengersettings", site.pk])


def form_data(conf, **changes):
    """The whole form as the browser posts it (booleans only when ticked)."""
    data = {}
    for field in MessengerSettings._meta.concrete_fields:
        if field.name in {"id", "site"}:
            continue
        value = getattr(conf, field.attname)
        if isinstance(value, bool):
            if value:
                data[field.name] = "on"
        else:
            data[field.attname.removesuffix("_id") if field.is_relation else field.name] = (
                "" if value is None else value
            )
    for key, value in changes.items():
        if value is False:
            data.pop(key, None)
        else:
            data[key] = value
    return data


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser("root", "root@example.com", "pw")


def test_tabs_and_help_text_on_every_field(site, editor, login):
    response = login(editor).get(edit_url(site))
    assert response.status_code == 200
    page = response.content.decode()
    for tab in ("General", "Notifications", "Attachments", "Spam and safety", "Maintenance"):
        assert tab in page
    form = response.context["form"]
    fields = [n for n in form.fields if n not in {"site"}]
    assert "spam_threshold" in fields
    assert "auto_archive_days" in fields
    panel = MessengerSettings.edit_handler.bind_to_model(MessengerSettings)

    def field_panels(panel):
        for child in getattr(panel, "children", []):
            if hasattr(child, "field_name"):
                yield child
            yield from field_panels(child)

    helped = {p.field_name: p.help_text or p.db_field.help_text for p in field_panels(panel)}
    assert set(helped) == set(fields)
    missing = [name for name, text in helped.items() if not text]
    assert missing == []
    for text in helped.values():
        assert escape(str(text)) in page
    # Each help text reaches the page.
    assert "Larger files are refused with a message." in page
    assert "high scores wait for a moderator in the review queue" in page


def test_editor_saves_a_setting(site, editor, login):
    conf = MessengerSettings.for_site(site)
    client = login(editor)
    response = client.post(
        edit_url(site),
        form_data(conf, spam_threshold="7.5", guests_may_write=False, blocked_words="casino"),
    )
    assert response.status_code == 302
    conf = MessengerSettings.for_site(site)
    assert conf.spam_threshold == 7.5
    assert conf.guests_may_write is False
    assert conf.blocked_word_list == ["casino"]


def test_unsafe_extensions_are_refused(site, editor, login):
    conf = MessengerSettings.for_site(site)
    response = login(editor).post(edit_url(site), form_data(conf, allowed_extensions="pdf, svg"))
    assert response.status_code == 200
    assert "Not allowed: svg." in response.content.decode()
    assert MessengerSettings.for_site(site).allowed_extensions == "jpg, jpeg, png, pdf"


def test_only_users_with_the_setting_permission_see_it(site, moderator, editor, login):
    # The moderator has admin access but not the settings permission.
    client = login(moderator)
    home = client.get(reverse("wagtailadmin_home")).content.decode()
    assert "/admin/settings/wagtail_messenger/messengersettings/" not in home
    response = client.get(edit_url(site))
    assert response.status_code == 302
    assert response["Location"] == reverse("wagtailadmin_home")
    # The editor has it.
    home = login(editor).get(reverse("wagtailadmin_home")).content.decode()
    assert "/admin/settings/wagtail_messenger/messengersettings/" in home


def test_plain_user_cannot_reach_the_settings(site, plain_user, login):
    response = login(plain_user).get(edit_url(site))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_superuser_sees_settings_and_moderation(site, superuser, login):
    client = login(superuser)
    assert client.get(edit_url(site)).status_code == 200
    assert client.get(reverse("messenger_threads:index")).status_code == 200


def test_demo_moderator_sees_the_moderation_panel(db, client):
    call_command("seed_demo", verbosity=0)
    assert client.login(username="moderator", password="moderator")
    home = client.get(reverse("wagtailadmin_home")).content.decode()
    assert reverse("messenger_threads:index") in home
    assert client.get(reverse("messenger_threads:index")).status_code == 200
    assert client.get(reverse("messenger_queue:index")).status_code == 200


def test_settings_are_read_from_the_cache_and_a_save_shows_at_once(
    site, editor, login, django_assert_num_queries
):
    conf = for_site(site)
    with django_assert_num_queries(0):
        assert for_site(site).enabled is True
    response = login(editor).post(edit_url(site), form_data(conf, enabled=False))
    assert response.status_code == 302
    assert for_site(site).enabled is False


def test_settings_by_site_id_load_the_site_only_when_not_cached(
    site, editor, login, django_assert_num_queries
):
    """Thread pages ask by the thread's site id (they do not load the site)."""
    from wagtail_messenger.services.settings import for_site_id

    first = for_site_id(site.pk)  # not cached yet: the site, then its settings
    assert first.pk == for_site(site).pk
    with django_assert_num_queries(0):
        assert for_site_id(site.pk).enabled is True
    login(editor).post(edit_url(site), form_data(first, enabled=False))
    assert for_site_id(site.pk).enabled is False
    assert for_site_id(10**6).pk == for_site().pk  # an unknown site: the default's


def test_a_rolled_back_save_leaves_the_settings_as_they_were(site, conf):
    assert for_site(site).enabled is True  # cached
    with pytest.raises(RuntimeError), transaction.atomic():
        conf.enabled = False
        conf.save()
        raise RuntimeError("the editor's request failed")
    assert for_site(site).enabled is True


def test_editors_edit_the_saved_settings_not_a_cached_copy(site, conf, editor, login):
    """With a per-process cache, another process may still hold the settings as they
    were before an editor's save; the edit form must show what is saved, or saving it
    would put the old values back."""
    from django.core.cache import cache

    from wagtail_messenger.services.settings import values_of

    stale = for_site(site)  # what another process cached
    MessengerSettings.objects.filter(pk=conf.pk).update(spam_threshold=9)  # saved elsewhere
    cache.set(MessengerSettings.cache_key(site.pk), values_of(stale))
    assert for_site(site).spam_threshold != 9  # the messenger's pages read the cache
    form = login(editor).get(edit_url(site)).context["form"]
    assert form.initial["spam_threshold"] == 9


def test_no_user_object_or_password_hash_in_the_cached_settings(site, conf, make_user):
    """The shared cache (Redis) holds plain values: the fallback recipient is an id."""
    import pickle

    from django.core.cache import cache

    staff = make_user("staff", is_staff=True)
    conf.fallback_user = staff
    conf.save()
    assert for_site(site).fallback_user_id == staff.pk  # cached now
    entry = cache.get(MessengerSettings.cache_key(site.pk))
    assert isinstance(entry, dict) and entry["fallback_user_id"] == staff.pk
    assert all(isinstance(v, str | int | float | bool | type(None)) for v in entry.values())
    assert staff.password.encode() not in pickle.dumps(entry)
    assert for_site(site).fallback_user == staff  # loads when asked for


def test_the_limits_are_in_the_panel_and_saved(site, editor, login):
    client = login(editor)
    page = client.get(edit_url(site)).content.decode()
    for heading in ("Limits for guests", "Limits for accounts"):
        assert heading in page
    for name in (
        "account_messages_per_minute",
        "account_threads_per_day",
        "new_account_days",
        "new_account_messages_per_minute",
        "new_account_threads_per_day",
        "guest_link_emails_per_day",
    ):
        assert f'name="{name}"' in page
    conf = MessengerSettings.for_site(site)
    response = client.post(
        edit_url(site), form_data(conf, account_messages_per_minute=7, new_account_days=14)
    )
    assert response.status_code == 302
    saved = MessengerSettings.objects.get(site=site)
    assert (saved.account_messages_per_minute, saved.new_account_days) == (7, 14)
    assert for_site(site).account_messages_per_minute == 7
