"""Fixtures shared by the whole suite.

Real parts (PostgreSQL, Redis, S3 through moto, SMTP through aiosmtpd, Chromium) are used
as they are. On a newcomer's machine a missing part skips its tests with a message that
says how to get it; under CI (``CI=true``) a missing part fails the test instead.
"""

import os

import pytest
from django.contrib.auth.models import Group, Permission
from wagtail.models import Page, Site

from sandbox.marketplace.models import HomePage, ListingIndexPage, ListingPage
from wagtail_messenger.actors import Actor
from wagtail_messenger.services import conversations
from wagtail_messenger.services.parties import Party

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_part(available, how_to_get):
    """Skip (locally) or fail (in CI) when a real part is missing."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"CI must provide this part: {how_to_get}")
    pytest.skip(how_to_get)


@pytest.fixture
def site(db):
    """The default site, rooted at a marketplace home page."""
    root = Page.get_first_root_node()
    home = root.add_child(instance=HomePage(title="Market", slug="market-home"))
    site = Site.objects.get(is_default_site=True)
    site.root_page = home
    site.save()
    return site


@pytest.fixture
def listing_index(site):
    return site.root_page.add_child(instance=ListingIndexPage(title="Listings", slug="listings"))


@pytest.fixture
def make_user(db, django_user_model):
    counter = {"n": 0}

    def make(username=None, **extra):
        counter["n"] += 1
        username = username or f"user{counter['n']}"
        extra.setdefault("email", f"{username}@example.com")
        extra.setdefault("first_name", username.capitalize())
        user = django_user_model.objects.create_user(username=username, password="pw", **extra)
        return user

    return make


@pytest.fixture
def seller(make_user):
    return make_user("seller")


@pytest.fixture
def buyer(make_user):
    return make_user("buyer")


@pytest.fixture
def moderator(make_user):
    user = make_user("moderator")
    group, _ = Group.objects.get_or_create(name="Moderators")
    group.permissions.add(
        Permission.objects.get(codename="access_admin"),
        Permission.objects.get(codename="moderate_thread"),
    )
    user.groups.add(group)
    return user


@pytest.fixture
def make_listing(listing_index, seller):
    def make(title="Road bike", owner=seller, **extra):
        page = listing_index.add_child(
            instance=ListingPage(title=title, owner=owner, price="100.00", **extra)
        )
        if owner is None:
            ListingPage.objects.filter(pk=page.pk).update(owner=None)
            page.refresh_from_db()
        return page

    return make


@pytest.fixture
def listing(make_listing):
    return make_listing()


@pytest.fixture
def start(site):
    """Start a thread: ``start(sender_user_or_party, recipient_user_or_party, body=...)``."""

    def as_party(who):
        return who if isinstance(who, Party) else Party.for_user(who)

    def start(sender, recipient, body="Hello, is it still available?", **kwargs):
        kwargs.setdefault("site", site)
        return conversations.start_thread(
            sender=as_party(sender), recipient=as_party(recipient), body=body, **kwargs
        )

    return start


@pytest.fixture
def actor():
    """``actor(user)`` or ``actor(guest_email="x@example.com")``."""

    def make(user=None, guest_email=None):
        return Actor.for_user(user) if user is not None else Actor.for_guest(guest_email)

    return make


os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # sync Playwright + live_server

from .real_parts import (  # noqa: E402, F401  (fixtures)
    browser_type_launch_args,
    redis_cache,
    s3_server,
    s3_storage,
    smtp_server,
)
