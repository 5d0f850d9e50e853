"""Every id parameter, given ids that are not ids, answers 400 or 404 with a human
message: never a 5xx (issue 20, "399 x 5xx under fuzzing")."""

import pytest
from django.test import Client
from django.urls import reverse

from wagtail_messenger.services.parties import Party

#: Empty, blank, signed, fractional, superscript and other-script digits, hex, far past
#: a 64-bit integer (OverflowError on SQLite), NUL, and text.
BAD_IDS = [
    "",
    " ",
    "-1",
    "0",
    "1.5",
    "¹",
    "٣٣",
    "0x10",
    "1e3",
    "9" * 30,
    "18446744073709551616",
    "9223372036854775808",
    "\x00",
    "abc",
    "1,2",
    "0.1.99999999999999999999",
    "1.-5.3",
]
#: Path ids: the URL converters take digits only, so the huge ones are what get through.
BAD_PATH_IDS = ["0", "9" * 30, "9223372036854775808", "00000000000000000001" + "0" * 40]


@pytest.fixture
def scene(start, buyer, seller, listing, moderator):
    thread = start(buyer, seller, listing=listing, body="Is it still available?").thread
    guest = start(Party.guest("Gina", "gina@example.com"), seller, listing=listing).thread
    return {"thread": thread, "guest": guest, "buyer": buyer, "moderator": moderator}


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def assert_human_4xx(response):
    assert response.status_code < 500, response.status_code
    if response.status_code >= 400:
        assert response.status_code in (400, 403, 404, 405, 410), response.status_code


def query_cases(scene):
    thread = scene["thread"]
    return [
        ("get", reverse("wagtail_messenger:poll", args=[thread.pk]), "after"),
        ("get", reverse("wagtail_messenger:older", args=[thread.pk]), "before"),
        ("get", reverse("wagtail_messenger:inbox"), "after"),
        ("get", reverse("wagtail_messenger:inbox"), "before"),
        ("post", reverse("wagtail_messenger:bulk_action"), "thread"),
    ]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_bad_ids_in_query_and_form_parameters_are_not_server_errors(scene, bad):
    client = logged_in(scene["buyer"])
    for method, url, name in query_cases(scene):
        data = {name: bad}
        if method == "post":
            data["action"] = "archive"
            response = client.post(url, data)
        else:
            response = client.get(url, data)
        assert_human_4xx(response)


@pytest.mark.parametrize("bad", BAD_PATH_IDS)
def test_bad_ids_in_paths_are_404(scene, bad):
    client = logged_in(scene["buyer"])
    base = "/messages"
    for path in [
        f"{base}/{bad}/",
        f"{base}/{bad}/poll/",
        f"{base}/{bad}/older/",
        f"{base}/new/{bad}/",
        f"{base}/new/{bad}/sent/",
        f"{base}/attachments/{bad}/",
    ]:
        response = client.get(path)
        assert response.status_code == 404, (path, response.status_code)
    for path in [
        f"{base}/actions/thread/{bad}/archive/",
        f"{base}/actions/message/{bad}/remove/",
        f"{base}/actions/message/{bad}/report/",
        f"{base}/actions/person/{bad}/block/",
        f"{base}/actions/person/{bad}/unblock/",
    ]:
        response = client.post(path, {"reason": "spam"})
        assert response.status_code in (400, 404), (path, response.status_code)


@pytest.mark.parametrize("bad", BAD_IDS)
def test_bad_ids_in_the_moderation_panel_are_not_server_errors(scene, bad):
    client = logged_in(scene["moderator"])
    thread = scene["thread"]
    listing_urls = [
        reverse("messenger_threads:index"),
        reverse("messenger_threads:index_results"),
    ]
    for url in listing_urls:
        for name in ("site", "listing", "p"):
            assert_human_4xx(client.get(url, {name: bad}))
    for action in ("messenger_spam", "messenger_close", "messenger_delete"):
        url = reverse("wagtail_bulk_action", args=["wagtail_messenger", "thread", action])
        assert_human_4xx(client.get(url, {"id": bad}))
        assert_human_4xx(client.post(f"{url}?id={bad}", {}))
    inspect = reverse("messenger_threads:action", args=[thread.pk])
    for action, name in (("remove", "message"), ("restore", "message"), ("block", "participant")):
        assert_human_4xx(client.post(inspect, {"action": action, name: bad}))


@pytest.mark.parametrize("bad", BAD_PATH_IDS + ["abc", "¹"])
def test_bad_ids_in_moderation_paths_are_404(scene, bad):
    client = logged_in(scene["moderator"])
    inspect = reverse("messenger_threads:inspect", args=[scene["thread"].pk])
    delete = reverse("messenger_threads:delete", args=[scene["thread"].pk])
    for url in (inspect, delete):
        path = url.replace(f"/{scene['thread'].pk}/", f"/{bad}/")
        assert client.get(path).status_code == 404, path
    action = reverse("messenger_threads:action", args=[scene["thread"].pk])
    path = action.replace(f"/{scene['thread'].pk}/", f"/{bad}/")
    assert client.post(path, {"action": "close"}).status_code == 404
