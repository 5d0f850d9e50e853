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
from wagtail_messenger.models import Participant
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


def ensure_wagtail_tree():
    """The locale, root page, root collection and default site Wagtail's migrations
    create. A test with ``transaction=True`` flushes every table when it ends, those rows
    included, so the tests after it rebuild them here instead of depending on the order
    tests run in."""
    from django.conf import settings
    from wagtail.models import Collection, Locale

    if Collection.get_first_root_node() is None:
        Collection.add_root(name="Root")
    if not Locale.objects.exists():
        Locale.objects.create(language_code=settings.LANGUAGE_CODE)
    root = Page.get_first_root_node()
    if root is None:
        from django.contrib.contenttypes.models import ContentType

        ContentType.objects.clear_cache()  # the flush recreated them with new ids
        root = Page.add_root(instance=Page(title="Root", slug="root"))
    site = Site.objects.filter(is_default_site=True).first()
    if site is None:
        site = Site.objects.create(
            hostname="localhost", port=80, root_page=root, is_default_site=True
        )
    return root, site


@pytest.fixture(autouse=True)
def fresh_cache():
    """Each test starts with an empty default cache (rate-limit counters, team
    memberships), so no test depends on what an earlier one cached."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def site(db):
    """The default site, rooted at a marketplace home page."""
    root, site = ensure_wagtail_tree()
    home = root.add_child(instance=HomePage(title="Market", slug="market-home"))
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

    def start(sender, recipient, body="Hello, is it still available?", confirmed=True, **kwargs):
        """``confirmed``: a guest sender then opens the link emailed for the thread (their
        row's address is confirmed), as the tests that act as that guest assume;
        ``confirmed=False`` leaves a typed address unconfirmed."""
        kwargs.setdefault("site", site)
        sender = as_party(sender)
        posted = conversations.start_thread(
            sender=sender, recipient=as_party(recipient), body=body, **kwargs
        )
        if confirmed and sender.kind == Participant.Kind.GUEST:
            posted.thread.participants.filter(kind=sender.kind, email=sender.email).update(
                email_verified=True
            )
        return posted

    return start


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    """``send(service, *args, **kwargs)``: call a service and run what it queued for after
    the commit (the notification task, outbox emails), as a request would."""

    def run(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return run


@pytest.fixture
def actor():
    """``actor(user)`` or ``actor(guest_email="x@example.com")``."""

    def make(user=None, guest_email=None):
        return Actor.for_user(user) if user is not None else Actor.for_guest(guest_email)

    return make


os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # sync Playwright + live_server


def _serve_one_request_at_a_time():
    """The live server (browser stories) answers each request in a thread of its own, and
    with SQLite in memory every thread shares the test's one connection: two requests at
    once (a page's poll and its read mark) then collide ("cannot start a transaction
    within a transaction"), more often on a busy machine. Over a shared connection the
    server runs one request at a time, as a real site's one database connection would."""
    import threading

    from django.core.servers.basehttp import ThreadedWSGIServer
    from django.test.testcases import LiveServerThread

    class OneRequestAtATime(ThreadedWSGIServer):
        def set_app(self, application):
            if self.connections_override:
                lock = threading.Lock()

                def serial(environ, start_response):
                    with lock:
                        return application(environ, start_response)

                return super().set_app(serial)
            return super().set_app(application)

    LiveServerThread.server_class = OneRequestAtATime


_serve_one_request_at_a_time()

from .real_parts import (  # noqa: E402, F401  (fixtures)
    browser_type_launch_args,
    dovecot,
    faulty_s3,
    imap_mailbox,
    redis_cache,
    s3_server,
    s3_storage,
    smtp_server,
)
from .sites import (  # noqa: E402, F401  (fixtures)
    built_wheel,
    fresh_site_login,
    installed_wheel,
    use_theme,
    wagtail_start_project,
)
from .smtp_faults import mail_server  # noqa: E402, F401  (fixture)


def pytest_terminal_summary(terminalreporter):
    """Print the figures measured in this run in the summary, visible in CI's log
    without ``-s``: those tests record (``record_property("figure", "...")``, such as the
    outbox's fault runs), and the security suite's totals (tests/security/figures.py)."""
    from .security.figures import lines

    security = lines()
    if security:
        terminalreporter.section("security figures")
        for line in security:
            terminalreporter.write_line(line)
    figures = [
        value
        for outcome in ("passed", "failed")
        for report in terminalreporter.stats.get(outcome, [])
        for name, value in getattr(report, "user_properties", ())
        if name == "figure"
    ]
    if figures:
        terminalreporter.section("figures")
        for figure in figures:
            terminalreporter.write_line(figure)


@pytest.fixture
def private_folder(settings, tmp_path):
    """A private folder of the test's own for the plugin's files (so they can be found
    and counted); modules whose every test needs it use it autouse."""
    folder = tmp_path / "private"
    settings.STORAGES = {
        **settings.STORAGES,
        "wagtail_messenger": {
            "BACKEND": "wagtail_messenger.storage.PrivateFileSystemStorage",
            "OPTIONS": {"location": folder},
        },
    }
    return folder


@pytest.fixture
def set_mode(site):
    """``set_mode(mode, **fields)``: the site's notification mode ("no flood" when not
    given) and any other field of its messenger settings."""
    from wagtail_messenger.models import MessengerSettings

    def set_mode(mode=MessengerSettings.NotificationMode.ROUND, **extra):
        conf = MessengerSettings.for_site(site)
        conf.notification_mode = mode
        for name, value in extra.items():
            setattr(conf, name, value)
        conf.save()
        return conf

    return set_mode
