"""Fixtures for the admin tests: an editor (admin access and the settings permission,
no moderation), a plain user, logged-in clients and a small moderation scene."""

import pytest
from django.contrib.auth.models import Group, Permission

from wagtail_messenger.actors import Actor
from wagtail_messenger.models import Attachment, Message, MessengerSettings
from wagtail_messenger.services import participation
from wagtail_messenger.services.parties import Party


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


@pytest.fixture
def scene(start, make_listing, make_user, seller, buyer):
    """Three threads: an ordinary one, one with a reported message, one with a held
    (spam) message and an attachment."""
    bike = make_listing("Road bike")
    lamp = make_listing("Brass lamp")
    carol = make_user("carol", first_name="Carol", email="carol@example.org")
    plain = start(buyer, seller, body="Is the bike still available?", listing=bike).thread
    reported_post = start(carol, seller, body="You are an idiot", listing=lamp)
    participation.report_message(
        Actor.for_user(seller), reported_post.message.pk, reason="Insulting"
    )
    guest = Party.guest("Gus", "gus@example.net")
    held_post = start(
        guest,
        seller,
        body="Cheap watches http://a.example http://b.example http://c.example http://d.example",
        listing=bike,
    )
    assert held_post.message.state == Message.State.HELD
    Attachment.objects.create(
        message=held_post.message,
        file="x",
        name="watch.pdf",
        content_type="application/pdf",
        size=10,
    )
    return {
        "plain": plain,
        "reported": reported_post.thread,
        "reported_message": reported_post.message,
        "held": held_post.thread,
        "held_message": held_post.message,
        "bike": bike,
        "lamp": lamp,
    }
