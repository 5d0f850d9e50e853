"""The thread page, replies, the poll endpoint, older messages and the header JSON."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from wagtail_messenger.actors import Actor
from wagtail_messenger.forms import new_key
from wagtail_messenger.models import Message, Participant
from wagtail_messenger.services import conversations, participation
from wagtail_messenger.templatetags.messenger_tags import messenger_text
from wagtail_messenger.views.account import badge


@pytest.fixture
def thread(start, buyer, seller, listing):
    return start(buyer, seller, listing=listing).thread


@pytest.mark.django_db
class TestThreadPage:
    def test_participant_sees_messages_listing_and_reply_box(self, client, thread, seller):
        client.force_login(seller)
        html = client.get(thread.get_absolute_url()).content.decode()
        assert "Hello, is it still available?" in html
        assert 'href="/listings/road-bike/"' in html
        assert 'name="body"' in html
        # Showing the page marks nothing read: the page posts what it showed.
        assert Participant.objects.get(user=seller).unread_count == 1
        seen = thread.messages.last().seq
        response = client.post(f"/messages/{thread.pk}/read/", {"seen": seen})
        assert response.json() == {"ok": True, "unread": 0}
        assert Participant.objects.get(user=seller).unread_count == 0

    def test_foreign_and_unknown_threads_are_404(self, client, thread, make_user):
        client.force_login(make_user("stranger"))
        assert client.get(thread.get_absolute_url()).status_code == 404
        assert client.get("/messages/999999/").status_code == 404
        assert client.get(f"/messages/{thread.pk}/poll/?after=0").status_code == 404
        assert client.post(thread.get_absolute_url(), {"body": "hi"}).status_code == 404

    def test_reply_and_double_submit(self, client, thread, seller):
        client.force_login(seller)
        data = {"body": "Yes it is.", "key": new_key()}
        first = client.post(thread.get_absolute_url(), data)
        client.post(thread.get_absolute_url(), data)
        assert first.status_code == 302
        assert thread.messages.filter(body="Yes it is.").count() == 1

    def test_empty_reply_is_explained(self, client, thread, seller):
        client.force_login(seller)
        response = client.post(thread.get_absolute_url(), {"body": "  ", "key": new_key()})
        assert "Write a message before sending." in response.content.decode()
        json = client.post(thread.get_absolute_url(), {"body": ""}, HTTP_ACCEPT="application/json")
        assert json.status_code == 400 and json.json()["ok"] is False

    def test_listing_is_read_to_show_it_not_to_post(self, client, thread, seller):
        """The page reads the listing with the thread and its participants (one
        query); a reply does not read it at all, and a refused reply shows the page
        with its link."""
        client.force_login(seller)
        url = thread.get_absolute_url()
        with CaptureQueriesContext(connection) as page:
            assert 'href="/listings/road-bike/"' in client.get(url).content.decode()

        def listing_reads(queries):
            rows = connection.ops.quote_name("wagtail_messenger_participant")
            page_table = connection.ops.quote_name("wagtailcore_page")
            ours = [q["sql"] for q in queries if f"FROM {rows}" in q["sql"]]
            joined = [sql for sql in ours if f"JOIN {page_table}" in sql]
            alone = [q for q in queries if f"FROM {page_table}" in q["sql"]]
            return len(joined), len(alone)

        assert listing_reads(page) == (1, 0)
        with CaptureQueriesContext(connection) as reply:
            response = client.post(url, {"body": "Yes, come today.", "key": new_key()})
        assert response.status_code == 302
        assert listing_reads(reply) == (0, 0)
        refused = client.post(url, {"body": " ", "key": new_key()}).content.decode()
        assert "Write a message before sending." in refused
        assert 'href="/listings/road-bike/"' in refused

    def test_snapshot_when_the_listing_is_gone(self, client, thread, listing, buyer):
        listing.delete()
        client.force_login(buyer)
        html = client.get(thread.get_absolute_url()).content.decode()
        assert "Road bike" in html and "no longer available" in html

    def test_removed_and_hidden_messages_say_so(self, client, thread, buyer):
        Message.objects.filter(thread=thread).update(
            state=Message.State.HIDDEN, moderation_reason="insults"
        )
        client.force_login(buyer)
        assert (
            "hidden by moderators: insults"
            in client.get(thread.get_absolute_url()).content.decode()
        )
        Message.objects.filter(thread=thread).update(state=Message.State.REMOVED)
        assert "message removed" in client.get(thread.get_absolute_url()).content.decode()

    def test_bodies_are_escaped_and_links_get_nofollow_noopener(self):
        html = messenger_text('<script>x</script> see https://example.com/a\nbye " rel="nofollow"')
        assert "<script>" not in html
        assert 'rel="nofollow noopener noreferrer"' in html
        assert "<br>" in html
        assert html.count("<a ") == 1, "the typed rel stays text"

    def test_latest_page_first_and_older_on_demand(self, client, thread, buyer, settings, actor):
        settings.WAGTAILMESSENGER_MESSAGES_PER_PAGE = 3
        for n in range(7):
            conversations.post_message(actor=actor(buyer), thread=thread, body=f"number {n}")
        client.force_login(buyer)
        html = client.get(thread.get_absolute_url()).content.decode()
        assert "number 6" in html and "number 4" in html and "number 3" not in html
        assert "Older messages" in html
        oldest = thread.messages.get(body="number 4").pk
        older = client.get(f"/messages/{thread.pk}/older/?before={oldest}").json()
        assert ["number 1" in m["html"] for m in older["messages"]] == [True, False, False]
        assert older["has_older"] is True
        plain = client.get(f"{thread.get_absolute_url()}?before={oldest}").content.decode()
        assert "number 3" in plain and "number 6" not in plain


@pytest.mark.django_db
class TestPoll:
    def test_nothing_new_is_204_from_one_query(self, client, thread, buyer, seller, actor):
        client.force_login(buyer)
        client.get(thread.get_absolute_url())  # session and user cached by the client
        cursor = thread.messages.last().seq
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"/messages/{thread.pk}/poll/?after={cursor}")
        assert response.status_code == 204
        messenger_queries = [q["sql"] for q in queries if "wagtail_messenger" in q["sql"]]
        assert len(messenger_queries) == 1

    def test_nothing_new_asks_the_cache_once(self, client, thread, buyer, monkeypatch):
        """The idle poll runs every few seconds on every open thread: the person's teams
        come from one cache request (a round trip with Redis, about 0.2 ms), which costs
        less than building them into the query as a subquery did (0.4 ms, measured)."""
        from django.core.cache import cache

        client.force_login(buyer)
        cursor = thread.messages.last().seq
        asked = []
        for name in ("get", "get_many"):
            empty = {} if name == "get_many" else None  # a cache that holds nothing

            def ask(*args, _name=name, _empty=empty, **kwargs):
                asked.append(_name)
                return _empty

            monkeypatch.setattr(cache, name, ask)
        response = client.get(f"/messages/{thread.pk}/poll/?after={cursor}")
        assert response.status_code == 204
        assert asked == ["get_many"]

    def test_new_messages_arrive_with_a_new_cursor(self, client, thread, buyer, seller, actor):
        client.force_login(buyer)
        cursor = thread.messages.last().seq
        conversations.post_message(actor=actor(seller), thread=thread, body="Answer <b>here</b>")
        data = client.get(f"/messages/{thread.pk}/poll/?after={cursor}").json()
        assert len(data["messages"]) == 1
        assert "Answer &lt;b&gt;here&lt;/b&gt;" in data["messages"][0]["html"]
        assert data["cursor"] == cursor + 1
        assert Participant.objects.get(user=buyer).unread_count == 1, "a GET marks nothing"
        assert client.get(f"/messages/{thread.pk}/poll/?after={data['cursor']}").status_code == 204

    def test_bad_cursor_is_not_an_error(self, client, thread, buyer):
        client.force_login(buyer)
        assert client.get(f"/messages/{thread.pk}/poll/?after=abc").status_code == 200


@pytest.mark.django_db
class TestHeaderWidget:
    def test_badge_caps_at_99(self):
        assert [badge(0), badge(3), badge(99), badge(100)] == ["", "3", "99", "99+"]

    def test_unread_json_and_widget(self, client, thread, seller, buyer):
        client.force_login(seller)
        assert client.get("/messages/unread/").json() == {"unread": 1, "badge": "1"}
        data = client.get("/messages/unread/?threads=1").json()
        assert data["unread"] == 1 and data["badge"] == "1"
        assert data["threads"][0]["title"] == "Road bike"
        assert data["threads"][0]["url"] == thread.get_absolute_url()
        Participant.objects.filter(user=seller).update(unread_count=150)
        assert client.get("/messages/unread/").json()["badge"] == "99+"
        html = client.get("/").content.decode()
        assert "Messages" in html and "(<span data-wm-unread-count>99+</span>)" in html

    def test_drop_down_preview_names_who_wrote_the_last_message(
        self, client, thread, seller, buyer, actor
    ):
        client.force_login(seller)
        (row,) = client.get("/messages/unread/?threads=1").json()["threads"]
        assert (row["from"], row["preview"]) == ("Buyer", "Hello, is it still available?")
        conversations.post_message(actor=actor(seller), thread=thread, body="Yes it is")
        (row,) = client.get("/messages/unread/?threads=1").json()["threads"]
        # The seller's own reply is theirs, not the buyer's ("You: ...", not "Buyer: ...").
        assert (row["from"], row["with"], row["preview"]) == ("You", "Buyer", "Yes it is")

    def test_anonymous_gets_nothing(self, client, thread):
        assert client.get("/messages/unread/").json() == {"unread": 0, "badge": "", "threads": []}

    def test_read_clears_the_badge(self, client, thread, seller, actor):
        participation.mark_read(actor(seller), thread.pk)
        client.force_login(seller)
        assert client.get("/messages/unread/").json()["unread"] == 0


# -- the templates a project may replace, and the fragment cache ---------------------------


@pytest.mark.parametrize(
    "state, shown, not_shown",
    [
        ({}, ["Flag as important", "Mute notifications", "Archive", "Move to trash"], []),
        ({"flagged": True, "muted": True}, ["Remove flag", "Turn notifications on"], []),
        ({"folder": "archive"}, ["Move to inbox"], ["Archive"]),
        ({"folder": "trash", "peer_blocked": True}, ["Restore from trash", "Unblock Buyer"], []),
    ],
)
def test_thread_actions_follow_the_readers_row(client, thread, seller, state, shown, not_shown):
    Participant.objects.filter(thread=thread, user=seller).update(**state)
    client.force_login(seller)
    html = client.get(thread.get_absolute_url()).content.decode()
    actions = html[html.index('<div class="wm-actions"') : html.index('<ol class="wm-messages"')]
    for label in [*shown, "Mark unread"]:
        assert f">{label}</button>" in actions, label
    for label in not_shown:
        assert f">{label}</button>" not in actions, label
    assert ("Unblock Buyer" in actions) == bool(state.get("peer_blocked"))
    assert (">Block Buyer</button>" in actions) != bool(state.get("peer_blocked"))


def test_blocking_asks_first_and_says_what_it_does(client, thread, seller, buyer):
    """The block button sits behind a disclosure ("Block Buyer…") that says in one
    sentence what happens; its button is described by that sentence."""
    import re

    client.force_login(seller)
    html = client.get(thread.get_absolute_url()).content.decode()
    confirm = re.search(r"<details class=\"wm-confirm\"[^>]*>(.*?)</details>", html, re.S)
    assert confirm, "the block action asks first"
    body = confirm.group(1)
    assert re.search(r"<summary[^>]*>Block Buyer…</summary>", body)
    what = re.search(r'<p id="([^"]+)">(.*?)</p>', body, re.S)
    assert "Nothing Buyer sends will reach you" in what.group(2)
    assert "they are not told" in what.group(2)
    button = re.search(r"<button [^>]*>Block Buyer</button>", body).group(0)
    assert f'aria-describedby="{what.group(1)}"' in button
    # Confirming is the same form post as before: it blocks.
    url = re.search(r'formaction="([^"]+)"', button).group(1)
    response = client.post(url, {"next": thread.get_absolute_url()})
    assert response.status_code == 302
    assert Participant.objects.get(thread=thread, user=seller).peer_blocked


def test_a_project_can_replace_the_message_and_action_templates(
    client, thread, seller, settings, tmp_path
):
    folder = tmp_path / "wagtail_messenger" / "includes"
    folder.mkdir(parents=True)
    (folder / "message.html").write_text(
        '<li class="mine">{{ message.sender_name }}: {{ message.body }}</li>'
    )
    (folder / "thread_actions.html").write_text('<p class="my-actions">{{ participant.pk }}</p>')
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    client.force_login(seller)
    html = client.get(thread.get_absolute_url()).content.decode()
    assert '<li class="mine">Buyer: Hello, is it still available?</li>' in html
    assert '<p class="my-actions">' in html and "wm-actions__button" not in html
    reply = client.post(
        thread.get_absolute_url(),
        {"body": "Yes", "key": new_key()},
        HTTP_ACCEPT="application/json",
    )
    assert reply.json()["messages"][0]["html"] == '<li class="mine">Seller: Yes</li>'


def test_a_project_can_replace_one_block_of_the_message(client, thread, seller, settings, tmp_path):
    folder = tmp_path / "wagtail_messenger" / "includes"
    folder.mkdir(parents=True)
    (folder / "message.html").write_text(
        '{% extends "wagtail_messenger/includes/message.html" %}'
        '{% block message_meta %}<p class="from">From {{ message.sender_name }}</p>{% endblock %}'
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    client.force_login(seller)
    html = client.get(thread.get_absolute_url()).content.decode()
    assert '<p class="from">From Buyer</p>' in html
    assert "<p>Hello, is it still available?</p>" in html  # the rest is the built-in one
    assert "wm-message-meta" not in html


@pytest.fixture
def rendered(django_capture_on_commit_callbacks):
    """``rendered(name)``: how many times the template ``name`` was rendered so far."""
    from django.test.signals import template_rendered

    seen = []

    def record(sender, template, **kwargs):
        seen.append(template.name)

    template_rendered.connect(record)
    yield lambda name: seen.count(f"wagtail_messenger/includes/{name}")
    template_rendered.disconnect(record)


def test_messages_come_from_the_fragment_cache_until_what_they_show_changes(
    client, thread, seller, buyer, moderator, rendered
):
    from wagtail_messenger.services import moderation

    conversations.post_message(actor=Actor.for_user(seller), thread=thread, body="Yes")
    client.force_login(seller)
    first = client.get(thread.get_absolute_url()).content.decode()
    assert rendered("message.html") == 2
    second = client.get(thread.get_absolute_url()).content.decode()
    assert rendered("message.html") == 2, "both messages came from the cache"
    assert strip_tokens(first) == strip_tokens(second)
    hidden = thread.messages.earliest("pk")
    moderation.hide_message(moderator, hidden.pk, reason="rude")
    third = client.get(thread.get_absolute_url()).content.decode()
    assert rendered("message.html") == 3, "only the changed message is rendered again"
    assert "hidden by moderators: rude" in third


def test_fragments_hold_no_csrf_token_and_follow_the_readers_language(
    client, thread, seller, settings, rendered
):
    from django.core.cache import cache

    settings.LANGUAGES = [("en", "English"), ("de", "German")]
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "django.middleware.locale.LocaleMiddleware"]
    client.force_login(seller)
    client.get(thread.get_absolute_url())
    fragments = [value for key, value in cache._cache.items() if "fragment" in key]
    assert fragments and not any(b"csrf" in value for value in fragments)
    client.get(thread.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="de")
    assert rendered("message.html") == 2, "a reader in German gets German markup"


def test_reporting_through_the_pages_shared_form(client, thread, seller):
    from wagtail_messenger.models import Report

    message = thread.messages.get()
    client.force_login(seller)
    response = client.post(
        f"/messages/actions/message/{message.pk}/report/",
        {
            f"reason-{message.pk}": "Looks like a scam",
            f"reason-{message.pk + 1}": "",  # the other messages' boxes come along
            "next": "/messages/",
        },
    )
    assert response.status_code == 302
    assert Report.objects.get(message=message).reason == "Looks like a scam"


def strip_tokens(html):
    import re

    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)
    return re.sub(r'name="key" value="[^"]*"', "", html)  # the reply form's one-time key


def test_times_follow_the_readers_time_zone_and_language_though_remembered(settings):
    """display.time_labels keeps formatted times keyed by zone, language and the
    reader's day: a reader elsewhere or in another language never gets another's."""
    from datetime import UTC, date, datetime
    from zoneinfo import ZoneInfo

    from django.utils import translation

    from wagtail_messenger.display import time_labels

    settings.USE_I18N = True
    moment = datetime(2026, 3, 5, 14, 30, tzinfo=UTC)
    later = date(2026, 5, 1)
    with translation.override("en"):
        utc = time_labels(moment, UTC, "en", later, None)
        tokyo = time_labels(moment, ZoneInfo("Asia/Tokyo"), "en", later, None)
    with translation.override("de"):
        german = time_labels(moment, UTC, "de", later, None)
    assert utc == ("2026-03-05T14:30:00+00:00", "March 5", "March 5, 2026, 2:30 p.m.")
    assert tokyo == ("2026-03-05T23:30:00+09:00", "March 5", "March 5, 2026, 11:30 p.m.")
    assert german[0] == utc[0] and german[1] != utc[1] and "März" in german[1]
    with translation.override("en"):
        assert time_labels(moment, UTC, "en", later, None) == utc


@pytest.mark.parametrize(
    ("today", "minutes", "label"),
    [
        ("2026-03-05", 0, "just now"),
        ("2026-03-05", 5, "5 min ago"),
        ("2026-03-05", None, "2:30 p.m."),
        ("2026-03-06", None, "yesterday 2:30 p.m."),
        ("2026-03-09", None, "Thursday 2:30 p.m."),
        ("2026-04-20", None, "March 5"),
        ("2027-01-02", None, "March 5, 2026"),
    ],
)
def test_times_read_as_people_say_them_with_the_full_date_as_title(today, minutes, label):
    from datetime import UTC, date, datetime

    from django.utils import translation

    from wagtail_messenger.display import time_labels

    moment = datetime(2026, 3, 5, 14, 30, tzinfo=UTC)
    with translation.override("en"):
        iso, shown, full = time_labels(moment, UTC, "en", date.fromisoformat(today), minutes)
    assert (iso, shown, full) == ("2026-03-05T14:30:00+00:00", label, "March 5, 2026, 2:30 p.m.")


def test_inbox_and_thread_say_just_now_with_the_date_in_the_title(
    client, buyer, seller, listing, start
):
    import re

    thread = start(buyer, seller, listing=listing).thread
    client.force_login(seller)
    for url in ("/messages/", thread.get_absolute_url()):
        html = client.get(url).content.decode()
        times = re.findall(r'<time [^>]*datetime="([^"]+)" title="([^"]+)">([^<]+)</time>', html)
        assert times, url
        assert {shown for _, _, shown in times} == {"just now"}
        assert all(re.search(r"\d{4}, \d", title) for _, title, _ in times), times
