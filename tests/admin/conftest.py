"""Fixtures for the admin tests: an editor (admin access and the settings permission,
no moderation), a plain user, logged-in clients and a small moderation scene."""

import pytest
from django.contrib.auth.models import Group, Permission

from wagtail_messenger.models import MessengerSettings


@pytest.fixture
def editor(make_user):
    user = make_user("editor")
    group, _ = Group.objects.get_or_create(name="Editors")
    group.permissions.add(
        Permission.objects.get(codename="access_admin"),
        Permission.objects.get(codename="change_messengersettings"),
    )
    user.groups.add(group)
    return user


@pytest.fixture
def plain_user(make_user):
    return make_user("plain")


@pytest.fixture
def login(client):
    def login_as(user):
        client.force_login(user)
        return client

    return login_as


@pytest.fixture
def conf(site):
    return MessengerSettings.for_site(site)
