"""Query budgets of the pages the benchmark measures (bench/run.py), through the test
client with a user logged in and the full middleware stack.

Each page costs the same, exact number of queries with a few threads and with a few
hundred: an extra query per row or per message, or a second settings lookup, fails
here before it shows in the benchmark. The header total and the poll with nothing new
cost one query beyond the least any logged-in page pays (the session and the user).
"""

import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from wagtail_messenger.conf import get_setting
from wagtail_messenger.models import Message, Participant, Thread

# bench.urls: the sandbox's URLs plus the benchmark's two floors.
pytestmark = [pytest.mark.django_db, pytest.mark.urls("bench.urls")]

# session + user: what the trivial login_required view (bench "floor_auth") costs.
FLOOR_AUTH = 2
BUDGET = {
    "floor_auth": FLOOR_AUTH,
    # + participant rows of the page, their threads' participants, contact
    # preference, header total
    "inbox": FLOOR_AUTH + 4,
    # + the thread with its participants (own row among them), blocks, messages,
    # header total (the site settings come from the cache; a thread about a listing
    # gets its page with the thread, and Wagtail's site lookup for its link is one more)
    "thread": FLOOR_AUTH + 4,
    "unread": FLOOR_AUTH + 1,
    "poll": FLOOR_AUTH + 1,
}


class World:
    """The measured user, partners, and threads written with bulk inserts."""

    def __init__(self, site, make_user):
        self.site = site
        self.me = make_user("measured")
        self.partners = [make_user(f"partner{i}") for i in range(5)]
        self.count = 0
        self.now = timezone.now()
        self.big = self.threads(1, per_thread=get_setting("MESSAGES_PER_PAGE") * 2 + 5)[0]

    def threads(self, count, per_thread=4):
        stamps = [self.now - timedelta(minutes=self.count + i + 1) for i in range(count)]
        threads = Thread.objects.bulk_create(
            [
                Thread(
                    site=self.site,
                    subject=f"Question {self.count + i}",
                    last_message_at=stamps[i],
                    message_count=per_thread,
                )
                for i in range(count)
            ]
        )
        rows = []
        for i, thread in enumerate(threads):
            other = self.partners[(self.count + i) % len(self.partners)]
            for person, first in ((self.me, True), (other, False)):
                rows.append(
                    Participant(
                        thread=thread,
                        kind="user",
                        user=person,
                        name=person.first_name,
                        email=person.email,
                        is_initiator=first,
                        last_message_at=stamps[i],
                        last_read_at=stamps[i],
                        unread_count=(self.count + i) % 3 if first else 0,
                    )
                )
        rows = Participant.objects.bulk_create(rows)
        Message.objects.bulk_create(
            [
                Message(
                    thread=thread,
                    sender=rows[2 * i + j % 2],
                    body=f"Message {j}: is it still available? See https://example.com/{j}",
                    created_at=stamps[i] - timedelta(seconds=per_thread - j),
                )
                for i, thread in enumerate(threads)
                for j in range(per_thread)
            ]
        )
        for thread in threads:
            thread.last_message = Message.objects.filter(thread=thread).order_by("pk").last()
        Thread.objects.bulk_update(threads, ["last_message"])
        self.count += count
        return threads


@pytest.fixture
def world(site, make_user):
    return World(site, make_user)


def queries(client, method, url, data=None):
    with CaptureQueriesContext(connection) as ctx:
        response = getattr(client, method)(url, data or {})
    assert response.status_code in (200, 204, 302), response.status_code
    return len(ctx), response


def measure(client, world):
    newest = Message.objects.filter(thread=world.big).order_by("-pk").first().pk
    urls = {
        "floor_auth": ("get", "/bench/floor-auth/", None),
        "inbox": ("get", reverse("wagtail_messenger:inbox"), None),
        "thread": ("get", world.big.get_absolute_url(), None),
        "unread": ("get", reverse("wagtail_messenger:unread"), None),
        "poll": ("get", reverse("wagtail_messenger:poll", args=[world.big.pk]), {"after": newest}),
    }
    counts = {}
    for name, (method, url, data) in urls.items():
        client.get(url, data or {})  # first visit: marks the thread read, warms caches
        counts[name], response = queries(client, method, url, data)
        if name == "poll":
            assert response.status_code == 204  # nothing new
    return counts


def test_pages_cost_the_same_queries_with_few_and_many_threads(client, world):
    client.force_login(world.me)
    world.threads(3)
    small = measure(client, world)
    world.threads(300)
    large = measure(client, world)
    assert small == BUDGET
    assert large == BUDGET


def test_header_total_and_idle_poll_cost_one_query_beyond_the_login(client, world):
    client.force_login(world.me)
    world.threads(40)
    counts = measure(client, world)
    assert counts["unread"] == counts["floor_auth"] + 1
    assert counts["poll"] == counts["floor_auth"] + 1


def test_a_thread_about_a_listing_costs_only_wagtails_site_lookup_more(client, world, listing):
    """The listing page comes with the thread (one join); what is left is the query
    Wagtail's ``Page.get_url(request)`` makes once per request to choose a relative or an
    absolute link (``Site.find_for_request``), as every Wagtail page that links to
    another pays it."""
    client.force_login(world.me)
    Thread.objects.filter(pk=world.big.pk).update(listing=listing, listing_title=listing.title)
    url = world.big.get_absolute_url()
    client.get(url)
    count, response = queries(client, "get", url)
    assert count == BUDGET["thread"] + 1
    assert f'href="{listing.url}"'.encode() in response.content


def test_inbox_and_thread_pages_are_paginated(client, world):
    client.force_login(world.me)
    world.threads(get_setting("THREADS_PER_PAGE") + 10)
    inbox = client.get(reverse("wagtail_messenger:inbox")).content.decode()
    assert inbox.count('class="wm-row__check"') == get_setting("THREADS_PER_PAGE")
    page = client.get(world.big.get_absolute_url()).content.decode()
    assert page.count('<li class="wm-message') == get_setting("MESSAGES_PER_PAGE")
    # One CSRF token for the page's actions, not one per message or per action: the
    # buttons post the shared form to their own address.
    assert page.count('form="wm-action-form"') > get_setting("MESSAGES_PER_PAGE") // 2
    assert page.count('id="wm-action-form"') == 1


def reply_queries(client, world, django_capture_on_commit_callbacks):
    url = world.big.get_absolute_url()
    with django_capture_on_commit_callbacks() as callbacks:
        count, response = queries(
            client, "post", url, {"body": "Deal. When can I pick it up?", "key": uuid.uuid4().hex}
        )
    assert response.status_code == 302
    assert mail.outbox == []  # no email inside the request
    assert callbacks  # the notification waits for the commit
    return count


def test_reply_costs_the_same_queries_with_few_and_many_threads(
    client, world, django_capture_on_commit_callbacks
):
    client.force_login(world.me)
    world.threads(3)
    reply_queries(client, world, django_capture_on_commit_callbacks)  # warm-up
    small = reply_queries(client, world, django_capture_on_commit_callbacks)
    world.threads(300)
    large = reply_queries(client, world, django_capture_on_commit_callbacks)
    assert small == large
    # session, user, the thread with its participants (settings and the ban list
    # cached); in the transaction: same-text spam check, the thread's row lock (the
    # delivery sequence is numbered under it), insert, thread counters, every reached
    # participant row in one UPDATE (+ the savepoint pair the test's own transaction
    # turns BEGIN/COMMIT into).
    assert small == FLOOR_AUTH + 6 + 2, small
    assert Message.objects.filter(thread=world.big, body__startswith="Deal.").count() == 3


def test_header_total_is_exact_below_a_hundred_and_99_plus_above(client, world):
    from wagtail_messenger.actors import Actor
    from wagtail_messenger.selectors import UNREAD_TOTAL_LIMIT

    client.force_login(world.me)
    world.threads(30)
    exact = Participant.objects.unread_total(Actor.for_user(world.me))
    assert 0 < exact < UNREAD_TOTAL_LIMIT
    assert client.get(reverse("wagtail_messenger:unread")).json() == {
        "unread": exact,
        "badge": str(exact),
    }
    world.threads(300)
    assert Participant.objects.unread_total(Actor.for_user(world.me)) > UNREAD_TOTAL_LIMIT
    assert client.get(reverse("wagtail_messenger:unread")).json() == {
        "unread": UNREAD_TOTAL_LIMIT,
        "badge": "99+",
    }
    page = client.get(reverse("wagtail_messenger:inbox")).content.decode()
    assert "(<span data-wm-unread-count>99+</span>)" in page


def test_no_index_is_only_the_start_of_another(db):
    """An index on columns that begin a wider index serves no lookup the wider one does
    not, costs every insert, and on PostgreSQL tempted the planner: the idle poll read
    the whole thread through ``message(thread_id)`` instead of the few rows of
    ``wm_msg_thread_page (thread_id, id)``. Partial indexes serve only their rows, so
    they neither replace nor are replaced."""
    from django.apps import apps

    models = apps.get_app_config("wagtail_messenger").get_models()
    partial = {
        item.name
        for model in models
        for item in [*model._meta.indexes, *model._meta.constraints]
        if getattr(item, "condition", None) is not None
    }
    redundant = []
    for model in apps.get_app_config("wagtail_messenger").get_models():
        with connection.cursor() as cursor:
            found = connection.introspection.get_constraints(cursor, model._meta.db_table)
        plain = {
            name: list(info["columns"])
            for name, info in found.items()
            if (info["index"] or info["unique"] or info["primary_key"])
            and name not in partial
            and info["columns"]
            and None not in info["columns"]
        }
        for name, columns in plain.items():
            info = found[name]
            if info["unique"] or info["primary_key"]:
                continue
            wider = [
                other
                for other, other_columns in plain.items()
                if len(other_columns) > len(columns) and other_columns[: len(columns)] == columns
            ]
            if wider:
                redundant.append(f"{model._meta.db_table}: {name} {columns} begins {wider}")
    assert redundant == [], "\n".join(redundant)


def test_the_button_costs_a_listing_page_two_queries_for_anonymous_visitors(
    client, site, listing, settings, tmp_path
):
    """The public listing page: the plugin reads the seller (the page owner) and their
    "allow others to contact me" switch; the settings come from the cache."""
    from wagtail_messenger.models import MessengerSettings

    (tmp_path / "marketplace").mkdir()
    (tmp_path / "marketplace" / "listing_page.html").write_text(
        "<html><body><main><h1>{{ page.title }}</h1></main></body></html>"
    )
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [str(tmp_path), *settings.TEMPLATES[0]["DIRS"]]}
    ]

    def count():
        client.get(listing.url)  # warm: the settings cache
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(listing.url)
        return len(ctx), response.content.decode()

    with_button, html = count()
    assert "<wagtail-messenger-contact" in html
    MessengerSettings.objects.filter(site=site).update(enabled=False)
    MessengerSettings.objects.get(site=site).forget_cached()
    without, html = count()
    assert "<wagtail-messenger-contact" not in html
    assert with_button == without + 2


def test_with_the_immediate_backend_a_reply_nobody_is_owed_an_email_for_costs_three_queries_more(
    client, world, settings, django_capture_on_commit_callbacks
):
    """The README's default task backend runs the notification task in the request,
    after the commit. One email per round: once the recipient was told and has not read
    since, the decision takes the invitee check, the message and the other participants
    (no lock, no transaction)."""
    from django.core import mail

    client.force_login(world.me)
    world.threads(3)
    url = world.big.get_absolute_url()

    def post():
        data = {"body": "Deal. When can I pick it up?", "key": uuid.uuid4().hex}
        # The notification task runs after the commit: count its queries too.
        with (
            CaptureQueriesContext(connection) as ctx,
            django_capture_on_commit_callbacks(execute=True),
        ):
            response = client.post(url, data)
        assert response.status_code == 302
        return len(ctx)

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    post()  # the first of the round: the recipient is emailed
    assert len(mail.outbox) == 1
    decided = post()
    assert len(mail.outbox) == 1, "no flood: one email per round"
    # The reply's own queries (test_reply_costs_the_same_queries_...), then the decision.
    assert decided == FLOOR_AUTH + 6 + 2 + 3
