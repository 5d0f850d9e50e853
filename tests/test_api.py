"""The headless JSON API (wagtail_messenger/api.py): a front end does through it what
the pages do, under the same rules: only participants see a thread, every POST of a
session carries the CSRF token, tokens are hashed and expire, the site's limits answer
429, bad input a 4xx with a sentence. The schema is fuzzed in tests/test_api_schema.py."""

import io
import re
import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from wagtail_messenger.forms import STAMP_FIELD, form_stamp
from wagtail_messenger.models import ApiToken, Message, MessengerSettings, Participant
from wagtail_messenger.services import conversations, moderation

pytestmark = pytest.mark.django_db

API = "/messages/api/v1"
LINK_RE = re.compile(r"/messages/link/([\w-]+)/")


def key():
    return uuid.uuid4().hex


def csrf_client(user=None):
    """A browser-like client: CSRF enforced, the token read from its cookie."""
    client = Client(enforce_csrf_checks=True)
    if user is not None:
        client.force_login(user)
    assert client.get(f"{API}/me").status_code == 200  # sets the CSRF cookie
    return client


def token_of(client):
    return client.cookies["csrftoken"].value


@pytest.fixture
def thread(send, start, buyer, seller, listing):
    return send(start, buyer, seller, listing=listing).thread


@pytest.fixture
def seller_client(client, seller):
    client.force_login(seller)
    return client


# -- who sees what ------------------------------------------------------------------------


def test_nobody_but_the_participants_reads_a_thread(client, thread, make_user, seller):
    assert client.get(f"{API}/inbox").status_code == 401
    assert client.get(f"{API}/threads/{thread.pk}").json() == {
        "detail": "Log in, or send a valid token."
    }
    client.force_login(make_user("stranger"))
    response = client.get(f"{API}/threads/{thread.pk}")
    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})
    assert client.get(f"{API}/inbox").json() == {"results": [], "next": None}
    assert client.get(f"{API}/threads/{thread.pk}/poll?after=0").status_code == 404
    client.force_login(seller)
    assert client.get(f"{API}/threads/{thread.pk}").status_code == 200


def test_the_inbox_as_data_with_pages_filters_and_search(
    seller_client, send, start, make_user, seller, make_listing, settings
):
    settings.WAGTAILMESSENGER_THREADS_PER_PAGE = 2
    for name in ("anna", "ben", "carl"):
        send(start, make_user(name), seller, listing=make_listing(f"Bike for {name}"))
    first = seller_client.get(f"{API}/inbox").json()
    assert [r["title"] for r in first["results"]] == ["Bike for carl", "Bike for ben"]
    row = first["results"][0]
    assert row["unread"] == 1 and row["people"][0]["name"] == "Carl"
    assert row["preview"] == "Hello, is it still available?"
    second = seller_client.get(f"{API}/inbox", {"cursor": first["next"]}).json()
    assert [r["title"] for r in second["results"]] == ["Bike for anna"]
    assert second["next"] is None

    found = seller_client.get(f"{API}/inbox", {"q": "ben"}).json()["results"]
    assert [r["title"] for r in found] == ["Bike for ben"]
    assert seller_client.get(f"{API}/inbox", {"folder": "archive"}).json()["results"] == []
    response = seller_client.get(f"{API}/inbox", {"cursor": "not-a-cursor"})
    assert response.status_code == 400
    assert response.json()["detail"] == "That page cursor is not one this API gave."
    assert seller_client.get(f"{API}/inbox", {"folder": "spam"}).status_code == 422
    assert seller_client.get(f"{API}/unread").json() == {"unread": 3}


def test_a_thread_as_data_hides_what_the_page_hides(
    seller_client, send, actor, thread, buyer, seller, moderator
):
    hidden = send(
        conversations.post_message, actor=actor(buyer), thread=thread, body="Rude words"
    ).message
    send(moderation.hide_message, moderator, hidden.pk, reason="rude")
    data = seller_client.get(f"{API}/threads/{thread.pk}").json()
    assert data["title"] == "Road bike" and data["can_reply"] is True
    assert data["listing"]["url"] == "/listings/road-bike/"
    assert data["listing"]["summary"] == "€100", "the page's messenger_summary()"
    assert [p["name"] for p in data["people"]] == ["Buyer"]
    first, second = data["messages"]
    assert (first["text"], first["mine"], first["sender_name"]) == (
        "Hello, is it still available?",
        False,
        "Buyer",
    )
    assert (second["state"], second["text"]) == ("hidden", "")
    assert data["cursor"] == second["seq"], "the poll starts after the newest shown"
    assert re.fullmatch("[0-9a-f]{32}", data["key"])


# -- writing ------------------------------------------------------------------------------


def test_a_reply_is_posted_once_per_key_and_seen_by_the_poll(
    thread, seller, buyer, django_capture_on_commit_callbacks
):
    seller_app = csrf_client(seller)
    buyer_app = Client()
    buyer_app.force_login(buyer)
    cursor = buyer_app.get(f"{API}/threads/{thread.pk}").json()["cursor"]

    same = key()
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):  # a double submit
            response = seller_app.post(
                f"{API}/threads/{thread.pk}/messages",
                {"body": "Yes, still here", "key": same},
                HTTP_X_CSRFTOKEN=token_of(seller_app),
            )
            assert response.status_code == 201
    answer = response.json()
    assert answer["message"]["text"] == "Yes, still here" and answer["message"]["mine"]
    assert answer["held"] is False and answer["key"] != same
    assert Message.objects.filter(body="Yes, still here").count() == 1
    assert [m.to for m in mail.outbox if "buyer@example.com" in m.to], "the buyer is told"

    polled = buyer_app.get(f"{API}/threads/{thread.pk}/poll", {"after": cursor}).json()
    assert [m["text"] for m in polled["messages"]] == ["Yes, still here"]
    assert polled["cursor"] > cursor
    again = buyer_app.get(f"{API}/threads/{thread.pk}/poll", {"after": polled["cursor"]})
    assert again.json() == {"messages": [], "cursor": polled["cursor"]}


def test_a_session_post_without_the_csrf_token_is_refused(thread, seller):
    app = csrf_client(seller)
    response = app.post(f"{API}/threads/{thread.pk}/messages", {"body": "Hi", "key": key()})
    assert response.status_code == 403
    assert not Message.objects.filter(body="Hi").exists()
    response = app.post(f"{API}/threads/{thread.pk}/actions/flag", HTTP_X_CSRFTOKEN=token_of(app))
    assert response.json() == {"ok": True, "message": "Conversation flagged as important."}
    assert Participant.objects.get(thread=thread, user=seller).flagged


def test_bad_messages_get_a_sentence_and_nothing_is_saved(seller_client, thread, site):
    url = f"{API}/threads/{thread.pk}/messages"
    response = seller_client.post(url, {"body": "   ", "key": key()})
    assert response.status_code == 400
    assert response.json() == {"detail": "Write a message before sending."}
    disguised = SimpleUploadedFile("photo.jpg", b"MZ\x90\x00 not a picture", "image/jpeg")
    response = seller_client.post(url, {"body": "See the photo", "attachment": disguised})
    assert response.status_code == 400
    assert "content is not JPG" in response.json()["detail"]
    assert not Message.objects.filter(body="See the photo").exists()
    assert seller_client.post(f"{API}/threads/{thread.pk}/actions/explode").status_code == 422
    assert (
        seller_client.post(f"{API}/threads/{thread.pk}/read", {}, "application/json").status_code
        == 422
    )


def test_the_sites_message_limits_answer_429(seller_client, thread, site, seller):
    seller.date_joined = timezone.now() - timedelta(days=365)
    seller.save()
    conf = MessengerSettings.for_site(site)
    conf.account_messages_per_minute = 2
    conf.save()
    url = f"{API}/threads/{thread.pk}/messages"
    codes = [seller_client.post(url, {"body": f"n{i}", "key": key()}).status_code for i in range(3)]
    assert codes == [201, 201, 429]
    assert Message.objects.filter(body__startswith="n").count() == 2


def test_the_api_rate_limits_each_person(seller_client, thread, settings):
    settings.WAGTAILMESSENGER_API_RATE = "3/m"
    codes = [seller_client.get(f"{API}/unread").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_reading_and_the_thread_actions(seller_client, thread, seller):
    row = Participant.objects.get(thread=thread, user=seller)
    assert row.unread_count == 1
    response = seller_client.post(
        f"{API}/threads/{thread.pk}/read", {"seen": 1}, content_type="application/json"
    )
    assert response.json() == {"unread": 0}
    for action in ("archive", "mute"):
        assert seller_client.post(f"{API}/threads/{thread.pk}/actions/{action}").json()["ok"]
    row.refresh_from_db()
    assert (row.folder, row.muted) == ("archive", True)
    archived = seller_client.get(f"{API}/inbox", {"folder": "archive"}).json()["results"]
    assert [r["id"] for r in archived] == [thread.pk]


# -- starting a conversation, as a user and as a guest ----------------------------------------


def test_a_user_starts_a_conversation_about_a_listing(buyer, listing, seller):
    app = Client(enforce_csrf_checks=True)
    app.force_login(buyer)
    info = app.get(f"{API}/listings/{listing.pk}/compose").json()
    assert info["can_write"] and not info["ask_identity"] and info["recipient"] == "Seller"
    assert info["conversation"] is None
    response = app.post(
        f"{API}/listings/{listing.pk}/compose",
        {"body": "Can I see it tomorrow?", "key": info["key"]},
        HTTP_X_CSRFTOKEN=token_of(app),
    )
    assert response.status_code == 201
    started = response.json()
    assert started["thread"] == Message.objects.get(body="Can I see it tomorrow?").thread_id
    # Asked again, it names the conversation a new message would join.
    again = app.get(f"{API}/listings/{listing.pk}/compose").json()
    assert again["conversation"] == started["thread"]

    seller_app = Client(enforce_csrf_checks=True)
    seller_app.force_login(seller)
    own = seller_app.get(f"{API}/listings/{listing.pk}/compose").json()
    assert own == {**own, "can_write": False, "problem": "This is your own listing."}
    assert app.get(f"{API}/listings/999999/compose").status_code == 404


def test_a_guest_writes_comes_back_through_the_link_and_reads_the_answer(
    listing, seller, settings, django_capture_on_commit_callbacks
):
    settings.WAGTAILMESSENGER_FORM_TRAPS = True
    settings.WAGTAILMESSENGER_FORM_MIN_SECONDS = 0
    guest = Client(enforce_csrf_checks=True)
    info = guest.get(f"{API}/listings/{listing.pk}/compose").json()
    assert info["ask_identity"] is True
    form = {
        "name": "Gail",
        "email": "gail@example.com",
        "body": "Is the bike red?",
        "key": info["key"],
        STAMP_FIELD: info["stamp"],
    }
    url = f"{API}/listings/{listing.pk}/compose"
    assert guest.post(url, form).status_code == 403, "no CSRF token"
    with django_capture_on_commit_callbacks(execute=True):
        response = guest.post(url, form, HTTP_X_CSRFTOKEN=token_of(guest))
    assert response.status_code == 201
    assert response.json() == {
        "thread": None,
        "held": False,
        "notice": "Check your email: we sent you a private link.",
    }
    [link_email] = [m for m in mail.outbox if m.to == ["gail@example.com"]]
    token = LINK_RE.search(link_email.body).group(1)

    # The seller answers through the API, with a token (a separate front end).
    out = io.StringIO()
    call_command(
        "messenger_api_token", "seller", "--name", "phone app", stdout=out, stderr=io.StringIO()
    )
    bearer = out.getvalue().strip()
    thread_id = Message.objects.get(body="Is the bike red?").thread_id
    app = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {bearer}")
    with django_capture_on_commit_callbacks(execute=True):
        response = app.post(
            f"{API}/threads/{thread_id}/messages", {"body": "Yes, red.", "key": key()}
        )
    assert response.status_code == 201, "a token needs no CSRF token"

    exchanged = guest.post(
        f"{API}/guest/session",
        {"token": token},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token_of(guest),
    )
    assert exchanged.json() == {"thread": thread_id, "email": "gail@example.com"}
    me = guest.get(f"{API}/me").json()
    assert me == {"kind": "guest", "name": "Gail", "unread": 1}
    texts = [m["text"] for m in guest.get(f"{API}/threads/{thread_id}").json()["messages"]]
    assert texts == ["Is the bike red?", "Yes, red."]
    bad = guest.post(
        f"{API}/guest/session",
        {"token": "x" * 40},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token_of(guest),
    )
    assert bad.status_code == 410 and bad.json()["detail"]


def test_a_guest_who_skips_the_time_trap_is_refused(listing, settings):
    settings.WAGTAILMESSENGER_FORM_TRAPS = True
    settings.WAGTAILMESSENGER_FORM_MIN_SECONDS = 3
    guest = Client()
    form = {"name": "Bot", "email": "bot@example.com", "body": "Buy now", "key": key()}
    response = guest.post(f"{API}/listings/{listing.pk}/compose", {**form, STAMP_FIELD: ""})
    assert response.status_code == 400 and "open for too long" in response.json()["detail"]
    fresh = {**form, STAMP_FIELD: form_stamp()}
    response = guest.post(f"{API}/listings/{listing.pk}/compose", fresh)
    assert response.status_code == 400 and "quick" in response.json()["detail"]
    assert not Message.objects.filter(body="Buy now").exists()


# -- tokens -------------------------------------------------------------------------------------


def test_tokens_are_stored_hashed_expire_and_can_be_revoked(client, seller, thread):
    out = io.StringIO()
    call_command("messenger_api_token", "seller", "--days", "1", stdout=out, stderr=io.StringIO())
    raw = out.getvalue().strip()
    row = ApiToken.objects.get(user=seller)
    assert raw not in row.key_hash and len(raw) >= 40
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    assert client.get(f"{API}/unread", **headers).json() == {"unread": 1}
    row.refresh_from_db()
    assert row.last_used_at is not None

    ApiToken.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(f"{API}/unread", **headers).status_code == 401
    call_command("messenger_api_token", "seller", "--revoke", stdout=io.StringIO())
    assert not ApiToken.objects.exists()
    assert client.get(f"{API}/unread", HTTP_AUTHORIZATION="Bearer nonsense").status_code == 401


# -- speed ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["inbox", "thread"])
def test_queries_do_not_grow_with_the_data(
    path, seller_client, send, start, make_user, seller, make_listing, actor,
    django_assert_max_num_queries,
):  # fmt: skip
    def request():
        first = Participant.objects.filter(user=seller).order_by("pk").first()
        url = f"{API}/inbox" if path == "inbox" else f"{API}/threads/{first.thread_id}"
        with django_assert_max_num_queries(99) as captured:
            assert seller_client.get(url).status_code == 200
        return len(captured)

    buyer = make_user("first_buyer")
    thread = send(start, buyer, seller, listing=make_listing("One")).thread
    request()  # the team list, cached from then on
    small = request()
    for i in range(12):
        other = make_user(f"b{i}")
        send(start, other, seller, listing=make_listing(f"L{i}"))
        send(conversations.post_message, actor=actor(buyer), thread=thread, body=f"more {i}")
    assert request() == small


def test_an_idle_poll_costs_one_query_besides_the_session(
    seller_client, thread, django_assert_num_queries
):
    seller_client.get(f"{API}/unread")  # the team list, cached from then on
    with django_assert_num_queries(3):  # the session, the user, "anything after 1?"
        response = seller_client.get(f"{API}/threads/{thread.pk}/poll", {"after": 1})
    assert response.json() == {"messages": [], "cursor": 1}


def test_a_wagtail_api_token_works_until_its_age_runs_out(client, seller, thread, settings):
    wagtail_models = pytest.importorskip("wagtail.models")
    if not hasattr(wagtail_models, "APIToken"):
        pytest.skip("Wagtail 7.4 has no API tokens of its own (Wagtail 8 has)")
    row, raw = wagtail_models.APIToken.create_token(user=seller, name="phone")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    assert client.get(f"{API}/unread", **headers).json() == {"unread": 1}

    settings.WAGTAILMESSENGER_API_TOKEN_MAX_AGE = timedelta(seconds=0)
    assert client.get(f"{API}/unread", **headers).status_code == 401, "too old"
    settings.WAGTAILMESSENGER_API_TOKEN_MAX_AGE = timedelta(days=90)
    row.revoke()
    assert client.get(f"{API}/unread", **headers).status_code == 401, "revoked"


# -- the rest of what the pages do -----------------------------------------------------------


def test_block_remove_report_and_bulk_through_the_api(
    seller_client, send, actor, thread, buyer, seller, site
):
    buyer_row = Participant.objects.get(thread=thread, user=buyer)
    blocked = seller_client.post(f"{API}/people/{buyer_row.pk}/block").json()
    assert blocked == {
        "ok": True,
        "message": "You blocked Buyer. Nothing they send reaches you any more.",
    }
    assert Participant.objects.get(thread=thread, user=seller).peer_blocked
    assert seller_client.post(f"{API}/people/{buyer_row.pk}/unblock").json()["ok"]
    seller_row = Participant.objects.get(thread=thread, user=seller)
    assert seller_client.post(f"{API}/people/{seller_row.pk}/block").status_code == 404

    mine = send(
        conversations.post_message, actor=actor(seller), thread=thread, body="Oops, wrong"
    ).message
    assert seller_client.post(f"{API}/messages/{mine.pk}/remove").json()["ok"]
    assert Message.objects.get(pk=mine.pk).state == Message.State.REMOVED
    theirs = thread.messages.order_by("pk").first()
    report = seller_client.post(
        f"{API}/messages/{theirs.pk}/report", {"reason": "scam"}, content_type="application/json"
    )
    assert report.json()["message"] == "Thank you. The moderators will look at this message."
    assert theirs.reports.get().reason == "scam"
    assert seller_client.post(f"{API}/messages/{theirs.pk}/remove").status_code == 403

    other = seller_client.post(
        f"{API}/inbox/bulk",
        {"action": "archive", "threads": [thread.pk, 999999]},
        content_type="application/json",
    ).json()
    assert other == {"ok": True, "message": "1 conversation archived.", "count": 1}
    empty = seller_client.post(
        f"{API}/inbox/bulk", {"action": "archive", "threads": []}, content_type="application/json"
    )
    assert empty.status_code == 422


def test_preferences_through_the_api(seller_client, seller, client, buyer):
    assert seller_client.get(f"{API}/preferences").json() == {
        "allow_contact": True,
        "email_frequency": "",
    }
    saved = seller_client.post(
        f"{API}/preferences",
        {"allow_contact": False, "email_frequency": "daily"},
        content_type="application/json",
    )
    assert saved.json() == {"allow_contact": False, "email_frequency": "daily"}
    bad = seller_client.post(
        f"{API}/preferences",
        {"allow_contact": True, "email_frequency": "hourly"},
        content_type="application/json",
    )
    assert bad.status_code == 422


def test_lost_links_are_sent_again_and_say_nothing_about_the_address(
    client, start, seller, django_capture_on_commit_callbacks
):
    from wagtail_messenger.services.parties import Party

    start(Party.guest("Gail", "gail@example.com"), seller)
    mail.outbox.clear()
    url = f"{API}/guest/link"
    with django_capture_on_commit_callbacks(execute=True):
        known = client.post(url, {"email": "Gail@Example.com"}, content_type="application/json")
        unknown = client.post(url, {"email": "nobody@example.com"}, content_type="application/json")
    assert known.json() == unknown.json() and known.status_code == 200
    assert [m.to for m in mail.outbox] == [["gail@example.com"]]
    bad = client.post(url, {"email": "not an address"}, content_type="application/json")
    assert bad.json() == {"detail": "Enter a valid email address."}
