"""The conversation list: what a person sees, in which order, found how, and at what cost."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from wagtail_messenger.actors import GUEST_SESSION_KEY, Actor
from wagtail_messenger.models import Message, MessengerSettings, Participant, Thread
from wagtail_messenger.services import conversations, moderation, participation, safety
from wagtail_messenger.services.parties import Party

pytestmark = pytest.mark.django_db

INBOX = reverse("wagtail_messenger:inbox")


def rows_of(response):
    """Thread ids in the order the page lists them."""
    return [row.thread_id for row in response.context["rows"]]


def reply(user, thread, body):
    return conversations.post_message(actor=Actor.for_user(user), thread=thread, body=body)


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(INBOX)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/messages/")


def test_the_list_shows_person_listing_preview_time_and_unread_count(
    client, start, seller, buyer, make_user, listing
):
    buyer.first_name, buyer.last_name = "Bea", "Buyer"
    buyer.save()
    posted = start(buyer, seller, body="Is the bike still available?", listing=listing)
    start(Party.guest("Gus Guest", "gus@example.com"), seller, body="Hi from a guest")
    client.force_login(seller)
    response = client.get(INBOX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Bea Buyer" in html
    assert ">BB<" in html, "initials avatar"
    assert "Road bike" in html, "the listing it is about"
    assert "Is the bike still available?" in html
    assert "Gus Guest (guest)" in html
    assert 'wm-avatar wm-avatar--guest" aria-hidden="true">GG<' in html, "guests are grey"
    assert re.search(r'class="wm-badge"[^>]*>1<', html), "unread count per thread"
    assert posted.thread.get_absolute_url() in html


def test_previews_are_cut_to_the_preview_length(client, start, seller, buyer, settings):
    settings.WAGTAILMESSENGER_PREVIEW_LENGTH = 20
    start(buyer, seller, body="A" * 30 + " the end is not shown")
    client.force_login(seller)
    html = client.get(INBOX).content.decode()
    assert "A" * 19 + "…" in html
    assert "the end is not shown" not in html


def test_message_text_is_escaped(client, start, seller, buyer):
    start(buyer, seller, body="<script>alert(1)</script>")
    client.force_login(seller)
    html = client.get(INBOX).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_every_value_of_a_row_is_escaped(client, start, seller):
    """Rows are built in Python (wagtail_messenger/markup.py): names, titles and texts
    that look like markup or break out of an attribute come out as text."""
    evil = '"><img src=x onerror=alert(1)>'
    start(Party.guest(evil, "evil@example.com"), seller, subject=evil, body=evil)
    client.force_login(seller)
    html = client.get(INBOX).content.decode()
    assert "<img" not in html
    assert html.count("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;") >= 4  # name, title x2, text


def test_a_project_can_write_its_own_rows(client, start, seller, buyer, settings, tmp_path):
    folder = tmp_path / "wagtail_messenger"
    folder.mkdir()
    (folder / "inbox.html").write_text(
        '{% extends "wagtail_messenger/inbox.html" %}{% block inbox_row %}'
        '<li class="mine">{{ row.names }}: {{ row.title }} ({{ row.unread_count }})</li>'
        "{% endblock %}"
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    start(buyer, seller, subject="Blue bike", body="Still there?")
    client.force_login(seller)
    html = client.get(INBOX).content.decode()
    assert '<li class="mine">Buyer: Blue bike (1)</li>' in html
    assert "wm-row__check" not in html


def test_latest_activity_first(client, start, seller, make_user):
    first = start(make_user(), seller).thread
    second = start(make_user(), seller).thread
    client.force_login(seller)
    assert rows_of(client.get(INBOX)) == [second.pk, first.pk]
    reply(seller, first, "Answering the first")
    assert rows_of(client.get(INBOX)) == [first.pk, second.pk]


def test_blocked_peoples_threads_sink_to_the_bottom_greyed(client, start, seller, make_user):
    pest, other = make_user("pest"), make_user("other")
    pest_thread = start(pest, seller).thread
    start(other, seller)
    pest_row = pest_thread.participants.get(user=pest)
    safety.block(Actor.for_user(seller), pest_row.pk)
    reply(pest, pest_thread, "Still here, newest of all")
    client.force_login(seller)
    response = client.get(INBOX)
    assert rows_of(response)[-1] == pest_thread.pk
    html = response.content.decode()
    assert html.count("wm-row--blocked") == 1
    assert "Still here, newest of all" not in html, "nothing they send reaches the blocker"


def test_a_blocked_person_claiming_an_invitation_sinks_that_thread_too(
    client, start, seller, make_user
):
    """The seller wrote to an address with no account yet (an invitee), and blocked
    the account the address's owner already had; claiming the invitation makes that
    thread the blocked person's, so it sinks and greys like their other threads."""
    from wagtail_messenger.services import invitations

    pest = make_user("pest")
    start(make_user("other"), seller)
    shared = start(pest, seller).thread
    safety.block(Actor.for_user(seller), shared.participants.get(user=pest).pk)
    waiting = start(seller, Party.invitee("pest.home@example.com")).thread  # the newest
    assert invitations.claim(pest, "pest.home@example.com") == [waiting.pk]
    reply(pest, waiting, "Thanks, I have an account now")
    client.force_login(seller)
    response = client.get(INBOX)
    assert set(rows_of(response)[-2:]) == {waiting.pk, shared.pk}
    html = response.content.decode()
    assert html.count("wm-row--blocked") == 2
    assert "I have an account now" not in html


def test_a_guest_sees_their_threads_through_their_proven_email(client, start, seller):
    mine = start(Party.guest("Gus", "gus@example.com"), seller, body="Mine").thread
    start(Party.guest("Ola", "ola@example.com"), seller, body="Not mine")
    session = client.session
    session[GUEST_SESSION_KEY] = "gus@example.com"
    session.save()
    response = client.get(INBOX)
    assert response.status_code == 200
    assert rows_of(response) == [mine.pk]
    assert "Not mine" not in response.content.decode()


def test_a_thread_held_as_spam_shows_to_its_starter_only_until_released(
    client, start, site, seller, buyer, django_user_model
):
    MessengerSettings.objects.update_or_create(
        site=site, defaults={"blocked_words": "casino", "spam_threshold": 1}
    )
    posted = start(buyer, seller, body="Best casino deals")
    assert posted.message.state == Message.State.HELD
    client.force_login(seller)
    assert rows_of(client.get(INBOX)) == []
    client.force_login(buyer)
    assert rows_of(client.get(INBOX)) == [posted.thread.pk]
    moderator = django_user_model.objects.create_superuser("mod", "mod@example.com", "pw")
    moderation.release_message(moderator, posted.message.pk)
    client.force_login(seller)
    assert rows_of(client.get(INBOX)) == [posted.thread.pk]


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("bea", "bea"),  # the other person's name
        ("BEA@EXAMPLE", "bea"),  # their email
        ("tandem", "bea"),  # the listing title
        ("saddle", "cid"),  # message text
        ("nothing like it", None),
    ],
)
def test_search_by_person_listing_and_message_text(
    client, start, seller, make_user, make_listing, query, found
):
    threads = {
        "bea": start(make_user("bea"), seller, listing=make_listing("Tandem")).thread,
        "cid": start(make_user("cid"), seller, body="How worn is the saddle?").thread,
    }
    client.force_login(seller)
    response = client.get(INBOX, {"q": query})
    assert rows_of(response) == ([threads[found].pk] if found else [])
    if not found:
        assert "No conversation matches your search." in response.content.decode()


def test_search_does_not_find_what_did_not_reach_you(client, start, site, seller, make_user):
    spammer, pest = make_user("spammer"), make_user("pest")
    pest_thread = start(pest, seller, body="Hello").thread
    safety.block(Actor.for_user(seller), pest_thread.participants.get(user=pest).pk)
    reply(pest, pest_thread, "secret word after the block")
    MessengerSettings.objects.update_or_create(
        site=site, defaults={"blocked_words": "secret", "spam_threshold": 1}
    )
    held = start(seller, spammer, body="Hi").thread
    conversations.post_message(actor=Actor.for_user(spammer), thread=held, body="secret offer")
    client.force_login(seller)
    assert rows_of(client.get(INBOX, {"q": "secret"})) == []
    client.force_login(spammer)
    assert rows_of(client.get(INBOX, {"q": "secret"})) == [held.pk], "the sender finds their own"


def test_filter_tabs(client, start, seller, make_user):
    plain, unread, flagged, archived, trashed = (
        start(make_user(), seller).thread for _ in range(5)
    )
    me = Actor.for_user(seller)
    participation.mark_read(me, [plain.pk, flagged.pk, archived.pk, trashed.pk])
    participation.set_flagged(me, flagged.pk)
    participation.archive(me, archived.pk)
    participation.trash(me, trashed.pk)
    client.force_login(seller)

    def tab(name):
        return set(rows_of(client.get(INBOX, {"view": name})))

    assert tab("inbox") == {plain.pk, unread.pk, flagged.pk}
    assert tab("unread") == {unread.pk}
    assert tab("flagged") == {flagged.pk}
    assert tab("archive") == {archived.pk}
    assert tab("trash") == {trashed.pk}
    html = client.get(INBOX, {"view": "trash"}).content.decode()
    assert 'name="action" value="restore"' in html


def test_pages_walk_older_and_newer_without_counting(client, start, seller, make_user, settings):
    settings.WAGTAILMESSENGER_THREADS_PER_PAGE = 3
    threads = [start(make_user(), seller).thread for _ in range(7)]
    newest_first = [t.pk for t in reversed(threads)]
    client.force_login(seller)
    seen, url, pages = [], INBOX, []
    while url:
        response = client.get(url if url.startswith("/") else INBOX + url)
        pages.append(response)
        seen += rows_of(response)
        url = response.context["older_url"]
    assert seen == newest_first
    assert [len(rows_of(p)) for p in pages] == [3, 3, 1]
    assert pages[0].context["newer_url"] is None
    back = client.get(INBOX + pages[2].context["newer_url"])
    assert rows_of(back) == newest_first[3:6]
    back = client.get(INBOX + back.context["newer_url"])
    assert rows_of(back) == newest_first[:3]
    assert back.context["newer_url"] is None


def test_a_malformed_cursor_shows_the_first_page(client, start, seller, buyer):
    thread = start(buyer, seller).thread
    client.force_login(seller)
    for cursor in ("nonsense", "1.2", "7.1.1", "0.99999999999999999999.1"):
        response = client.get(INBOX, {"after": cursor})
        assert response.status_code == 200
        assert rows_of(response) == [thread.pk]


# -- scale ---------------------------------------------------------------------------------


def bulk_inbox(owner, others, count, start_at):
    """``count`` threads with ``owner`` written with bulk inserts, each with one message."""
    threads = Thread.objects.bulk_create(
        [
            Thread(
                subject=f"Question {i}",
                listing_title=f"Listing {i}",
                last_message_at=start_at + timedelta(seconds=i),
            )
            for i in range(count)
        ]
    )
    parts = []
    for i, thread in enumerate(threads):
        other = others[i % len(others)]
        when = thread.last_message_at
        parts += [
            Participant(
                thread=thread,
                kind="user",
                user=owner,
                name=owner.username,
                last_message_at=when,
                unread_count=i % 2,
            ),
            Participant(
                thread=thread,
                kind="user",
                user=other,
                name=other.username,
                last_message_at=when,
                is_initiator=True,
            ),
        ]
    parts = Participant.objects.bulk_create(parts)
    messages = Message.objects.bulk_create(
        [
            Message(
                thread=threads[i],
                sender=parts[2 * i + 1],
                body=f"message {i}",
                created_at=threads[i].last_message_at,
            )
            for i in range(count)
        ]
    )
    for thread, message in zip(threads, messages, strict=True):
        thread.last_message = message
    Thread.objects.bulk_update(threads, ["last_message"])


def test_the_page_costs_the_same_with_20_and_2000_threads_and_reads_one_page(
    client, seller, make_user, settings
):
    settings.WAGTAILMESSENGER_THREADS_PER_PAGE = 20
    others = [make_user() for _ in range(4)]
    client.force_login(seller)
    earlier = timezone.now() - timedelta(days=10)

    def load():
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(INBOX)
        assert response.status_code == 200
        return response, [q["sql"] for q in ctx.captured_queries]

    bulk_inbox(seller, others, 20, earlier)
    load()  # warm: the first request of a user also looks up their team memberships
    small, small_sql = load()
    bulk_inbox(seller, others, 1980, earlier + timedelta(days=1))
    large, large_sql = load()

    assert len(small_sql) == len(large_sql)
    assert len(rows_of(large)) == 20
    assert large.context["older_url"], "there is an older page"
    assert "message 1979" in large.content.decode(), "newest first"
    # The page's rows (the header total also reads rows latest first, up to 100).
    quote = connection.ops.quote_name  # "name" on SQLite and PostgreSQL, `name` on MySQL
    rows_sql = [sql for sql in large_sql if "peer_blocked" in sql and "subject" in sql]
    assert len(rows_sql) == 1
    assert re.search(r"LIMIT 21\b", rows_sql[0]), "one page and one row to know there is more"
    assert not any("COUNT(" in sql.upper() for sql in large_sql), "no count over the inbox"
    # Everyone in the shown threads comes in one query, for those 20 threads only.
    in_list = re.escape(quote("thread_id")) + r" IN \(([^)]*)\)"
    prefetch = [re.search(in_list, sql) for sql in large_sql]
    prefetch = [match.group(1).split(",") for match in prefetch if match]
    assert [len(ids) for ids in prefetch] == [20]


def test_pages_keep_rows_a_microsecond_apart_and_ties_in_order(client, seller, make_user, settings):
    settings.WAGTAILMESSENGER_THREADS_PER_PAGE = 2
    base = timezone.now().replace(microsecond=123456)
    bulk_inbox(seller, [make_user()], 3, base)  # 0, 1, 2 seconds after base
    Participant.objects.filter(user=seller).update(last_message_at=base)
    # An id, not a sliced subquery: MariaDB refuses a LIMIT inside "IN (subquery)".
    moved = [Participant.objects.filter(user=seller).order_by("pk").first().pk]
    Participant.objects.filter(pk__in=moved).update(
        last_message_at=base + timedelta(microseconds=1)
    )
    bulk_inbox(seller, [make_user()], 2, base - timedelta(microseconds=1))
    expected = list(
        Participant.objects.filter(user=seller)
        .order_by("peer_blocked", "-last_message_at", "-pk")
        .values_list("thread_id", flat=True)
    )
    client.force_login(seller)
    seen, query = [], {}
    while True:
        response = client.get(INBOX, query)
        seen += rows_of(response)
        if not response.context["older_url"]:
            break
        query = {"after": response.context["older_url"].split("after=")[1]}
    assert seen == expected
    assert len(set(seen)) == 5
