"""A database failure or a thread deleted mid-request answers a clear page (or JSON for
the page's own fetch requests), never a bare 500 (issue 20, "error pages")."""

import logging
import threading

import pytest
from django.db import connection, connections, transaction
from django.test import Client
from django.urls import reverse

from wagtail_messenger.models import Participant, Thread
from wagtail_messenger.views import errors


@pytest.fixture
def conversation(start, buyer, seller, listing):
    return start(buyer, seller, listing=listing, body="Is it still available?").thread


@pytest.fixture
def break_participant_table():
    """A real database error for every read of the inbox: the table is renamed, and
    renamed back afterwards. The tests using it run outside a test transaction
    (``transaction=True``): MySQL and MariaDB commit DDL at once."""
    table = connection.ops.quote_name(Participant._meta.db_table)
    gone = connection.ops.quote_name(Participant._meta.db_table + "_gone")

    def rename(old, new):
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {old} RENAME TO {new}")  # noqa: S608

    broken = []

    def break_it():
        rename(table, gone)
        broken.append(True)

    yield break_it
    if broken:
        rename(gone, table)


@pytest.mark.django_db(transaction=True)
def test_a_database_error_is_a_503_page_that_says_to_retry(
    client, conversation, buyer, caplog, break_participant_table
):
    client.force_login(buyer)
    client.get(reverse("wagtail_messenger:inbox"))  # the session is read before the break
    break_participant_table()
    with caplog.at_level(logging.ERROR, logger="wagtail_messenger.views"):
        response = client.get(reverse("wagtail_messenger:inbox"))
    assert response.status_code == 503
    assert response["Retry-After"] == str(errors.RETRY_AFTER)
    assert "private" in response["Cache-Control"]
    text = response.content.decode()
    assert "try again" in text
    assert "Nothing you sent in this request was kept" in text
    assert any("Database error" in record.message for record in caplog.records)


@pytest.mark.django_db(transaction=True)
def test_a_database_error_answers_json_to_fetch_requests(
    client, conversation, buyer, break_participant_table
):
    client.force_login(buyer)
    client.get(reverse("wagtail_messenger:inbox"))
    break_participant_table()
    response = client.get(
        reverse("wagtail_messenger:poll", args=[conversation.pk]) + "?after=0",
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 503
    assert response["Retry-After"] == str(errors.RETRY_AFTER)
    assert response.json()["ok"] is False
    assert "try again" in response.json()["errors"][0]


def test_the_error_page_needs_no_database(rf, settings):
    """When the site's own layout fails too (it reads the database), the plain page is
    used: the error is still explained."""
    settings.WAGTAILMESSENGER_BASE_TEMPLATE = "no/such/base.html"
    request = rf.get("/messages/")
    response = errors.unavailable(request)
    assert response.status_code == 503
    assert "<!DOCTYPE html>" in response.content.decode()
    assert "try again" in response.content.decode()


def test_a_thread_deleted_mid_request_is_410_gone(rf, conversation):
    """The wrapper meets the ``DoesNotExist`` of a thread that went away between two
    reads of the same request: the answer says so, with 410."""
    thread_id = conversation.pk

    def reads_twice(request, thread_id):
        Thread.objects.get(pk=thread_id)
        Thread.objects.filter(pk=thread_id).delete()  # maintenance, in between
        Thread.objects.get(pk=thread_id)

    response = errors.private(reads_twice)(rf.get("/"), thread_id=thread_id)
    assert response.status_code == 410
    assert "no longer exists" in response.content.decode()


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_lock_timeout_is_a_503_and_nothing_is_written(conversation, buyer):
    """Another connection holds the thread table (a migration, a long maintenance run);
    the reply times out on its lock and the writer is told to retry; nothing half-written
    is kept."""
    if connection.vendor != "postgresql":
        pytest.skip("Needs PostgreSQL's lock_timeout: set DATABASE_URL to run it.")
    client = Client()
    client.force_login(buyer)
    locked, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    table = connection.ops.quote_name(Thread._meta.db_table)
                    cursor.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")  # noqa: S608
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    worker = threading.Thread(target=hold)
    worker.start()
    try:
        assert locked.wait(10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '300ms'")
        before = conversation.messages.count()
        response = client.post(conversation.get_absolute_url(), {"body": "Still there?"})
    finally:
        release.set()
        worker.join(10)
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    assert response.status_code == 503
    assert response["Retry-After"] == str(errors.RETRY_AFTER)
    assert "try again" in response.content.decode()
    assert conversation.messages.count() == before
