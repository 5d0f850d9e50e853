"""The moderation panel, used as a moderator (a group with admin access and
``moderate_thread``, not a superuser), an editor (admin access, no moderation) and a
plain user (no admin access)."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from wagtail.models import ModelLogEntry, Site

from wagtail_messenger.actors import Actor
from wagtail_messenger.exceptions import NotAllowed
from wagtail_messenger.models import Ban, Message, Report, Thread
from wagtail_messenger.services import access, conversations, moderation

THREADS = reverse("messenger_threads:index")
QUEUE = reverse("messenger_queue:index")
BANS = reverse("messenger_bans:index")


def inspect_url(thread):
    return reverse("messenger_threads:inspect", args=[thread.pk])


def action_url(thread):
    return reverse("messenger_threads:action", args=[thread.pk])


def bulk_url(action, *threads):
    ids = "&".join(f"id={t.pk}" for t in threads)
    url = reverse("wagtail_bulk_action", args=["wagtail_messenger", "thread", action])
    return f"{url}?{ids}&next={THREADS}"


def titles(response):
    """Thread ids in the listing, read from the bulk-action checkboxes."""
    html = response.content.decode()
    return {int(part.split('"')[0]) for part in html.split('data-object-id="')[1:]}


# -- permissions --------------------------------------------------------------------------


def test_plain_user_is_sent_to_the_login(scene, plain_user, login):
    client = login(plain_user)
    for url in (THREADS, QUEUE, BANS, inspect_url(scene["plain"])):
        response = client.get(url)
        assert response.status_code == 302
        assert "/login/" in response["Location"]
    response = client.post(action_url(scene["plain"]), {"action": "close"})
    assert response.status_code == 302
    scene["plain"].refresh_from_db()
    assert scene["plain"].status == Thread.Status.OPEN


def test_editor_without_the_permission_sees_none_of_it(scene, editor, login):
    client = login(editor)
    home = client.get(reverse("wagtailadmin_home"))
    assert home.status_code == 200
    page = home.content.decode()
    assert "messenger/threads" not in page
    assert "messenger/queue" not in page
    assert "wait for review" not in page
    for url in (THREADS, QUEUE, BANS, inspect_url(scene["plain"])):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == reverse("wagtailadmin_home")
    response = client.post(action_url(scene["plain"]), {"action": "close"})
    assert response.status_code == 302
    response = client.post(bulk_url("messenger_delete", scene["plain"]))
    assert response.status_code == 302
    assert Thread.objects.filter(pk=scene["plain"].pk, status=Thread.Status.OPEN).exists()
    with pytest.raises(NotAllowed):
        moderation.close_thread(editor, scene["plain"].pk)


def test_moderator_group_reviews_without_being_superuser(scene, moderator, login):
    assert not moderator.is_superuser
    client = login(moderator)
    home = client.get(reverse("wagtailadmin_home")).content.decode()
    assert THREADS in home
    assert QUEUE in home
    # The menu label counts what waits: one reported message, one held message.
    assert "Review queue (2)" in home
    # The dashboard summary says the same.
    assert '2 <span class="w-sr-only">Messenger:</span>messages wait for review' in home
    assert client.get(THREADS).status_code == 200
    assert client.get(inspect_url(scene["held"])).status_code == 200


# -- listing: search, filters, export ------------------------------------------------------


@pytest.mark.parametrize(
    "query, expected",
    [
        ("carol", {"reported"}),  # a person's name
        ("gus@example.net", {"held"}),  # a guest's email
        ("brass", {"reported"}),  # the listing
        ("still available", {"plain"}),  # message text
        ("seller@example.com", {"plain", "reported", "held"}),
        ("nothing like this", set()),
    ],
)
def test_search(scene, moderator, login, query, expected):
    response = login(moderator).get(THREADS, {"q": query})
    assert response.status_code == 200
    assert titles(response) == {scene[name].pk for name in expected}


def test_filters(scene, moderator, login, site):
    client = login(moderator)

    def ids(**params):
        response = client.get(THREADS, params)
        assert response.status_code == 200
        return titles(response)

    assert ids(reported="true") == {scene["reported"].pk}
    assert ids(held="true") == {scene["held"].pk}
    assert ids(has_attachments="true") == {scene["held"].pk}
    assert ids(has_attachments="false") == {scene["plain"].pk, scene["reported"].pk}
    assert ids(listing=scene["lamp"].pk) == {scene["reported"].pk}
    assert ids(site=site.pk) == {scene["plain"].pk, scene["reported"].pk, scene["held"].pk}
    other = Site.objects.create(hostname="other.example", root_page=site.root_page)
    assert ids(site=other.pk) == set()
    Thread.objects.filter(pk=scene["plain"].pk).update(
        last_message_at=timezone.now() - timedelta(days=40)
    )
    since = (timezone.now() - timedelta(days=2)).date().isoformat()
    assert ids(last_message_at_from=since) == {scene["reported"].pk, scene["held"].pk}
    moderation.close_thread(moderator, scene["plain"].pk)
    assert ids(status="closed") == {scene["plain"].pk}


def test_csv_export_has_the_filtered_threads(scene, moderator, login):
    response = login(moderator).get(THREADS, {"export": "csv", "reported": "true"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 1
    row = rows[0]
    assert row["ID"] == str(scene["reported"].pk)
    assert row["Title"] == "Brass lamp"
    assert "Carol <carol@example.org>" in row["People"]
    assert row["Reported"] == "True"
    assert row["Held as spam"] == "False"


def test_csv_export_neutralises_formulas(start, make_listing, buyer, seller, moderator, login):
    start(buyer, seller, body="hi", listing=make_listing('=HYPERLINK("http://evil")'))
    response = login(moderator).get(THREADS, {"export": "csv"})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0]["Title"].startswith("'=HYPERLINK")


def test_xlsx_export(scene, moderator, login):
    from openpyxl import load_workbook

    response = login(moderator).get(THREADS, {"export": "xlsx"})
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = list(sheet.values)
    assert rows[0][:2] == ("ID", "Title")
    assert {r[0] for r in rows[1:]} == {scene[n].pk for n in ("plain", "reported", "held")}


# -- inspect and actions -------------------------------------------------------------------


def test_inspect_shows_the_whole_thread(scene, moderator, login):
    page = login(moderator).get(inspect_url(scene["held"])).content.decode()
    assert "Cheap watches" in page
    assert "Held: nobody received it yet." in page
    assert "watch.pdf" in page
    assert "Gus (guest)" in page
    page = login(moderator).get(inspect_url(scene["reported"])).content.decode()
    assert "Reported by Seller: Insulting" in page


def test_hide_and_unhide_a_message(scene, moderator, login, seller):
    client = login(moderator)
    thread, message = scene["reported"], scene["reported_message"]
    response = client.post(
        action_url(thread), {"action": "hide", "message": message.pk, "reason": "Insults"}
    )
    assert response.status_code == 302
    assert response["Location"] == inspect_url(thread)
    message.refresh_from_db()
    assert message.state == Message.State.HIDDEN
    assert message.moderation_reason == "Insults"
    assert message.moderated_by == moderator
    # Its report is resolved: the queue no longer lists it.
    assert message.reports.get().status == Report.Status.RESOLVED
    # The seller still sees the message's place, marked hidden with the reason.
    seen = access.visible_messages(Actor.for_user(seller), thread)
    assert list(seen.values_list("pk", "state", "moderation_reason")) == [
        (message.pk, Message.State.HIDDEN, "Insults")
    ]
    page = client.get(inspect_url(thread)).content.decode()
    assert "Hidden by moderators: Insults" in page

    client.post(action_url(thread), {"action": "unhide", "message": message.pk})
    message.refresh_from_db()
    assert message.state == Message.State.VISIBLE
    assert message.moderation_reason == ""


def test_a_message_from_another_thread_is_refused(scene, moderator, login):
    client = login(moderator)
    response = client.post(
        action_url(scene["plain"]),
        {"action": "hide", "message": scene["reported_message"].pk},
        follow=True,
    )
    assert "That is not part of this conversation." in response.content.decode()
    scene["reported_message"].refresh_from_db()
    assert scene["reported_message"].state == Message.State.VISIBLE


def test_hiding_a_held_message_is_refused_with_a_message(scene, moderator, login):
    response = login(moderator).post(
        action_url(scene["held"]),
        {"action": "hide", "message": scene["held_message"].pk},
        follow=True,
    )
    assert response.status_code == 200
    assert "Only a visible message can be hidden." in response.content.decode()


def test_close_and_reopen(scene, moderator, login, buyer):
    client = login(moderator)
    thread = scene["plain"]
    client.post(action_url(thread), {"action": "close"})
    thread.refresh_from_db()
    assert thread.status == Thread.Status.CLOSED
    with pytest.raises(NotAllowed):
        conversations.post_message(actor=Actor.for_user(buyer), thread=thread, body="Hello?")
    client.post(action_url(thread), {"action": "reopen"})
    thread.refresh_from_db()
    assert thread.status == Thread.Status.OPEN
    conversations.post_message(actor=Actor.for_user(buyer), thread=thread, body="Hello?")


def test_mark_spam_and_not_spam(scene, moderator, login, seller):
    client = login(moderator)
    thread = scene["held"]
    client.post(action_url(thread), {"action": "spam"})
    thread.refresh_from_db()
    assert thread.status == Thread.Status.SPAM
    scene["held_message"].refresh_from_db()
    assert scene["held_message"].state == Message.State.HELD
    assert scene["held_message"].moderated_at is not None  # reviewed: left the queue
    waiting = moderation.waiting_messages().values_list("pk", flat=True)
    assert scene["held_message"].pk not in set(waiting)

    client.post(action_url(thread), {"action": "not_spam"})
    thread.refresh_from_db()
    assert thread.status == Thread.Status.OPEN
    scene["held_message"].refresh_from_db()
    assert scene["held_message"].state == Message.State.VISIBLE
    seller_row = thread.participants.get(user=seller)
    assert seller_row.unread_count == 1


def test_block_a_sender_site_wide(scene, moderator, login, seller):
    client = login(moderator)
    thread = scene["reported"]
    carol_row = thread.participants.get(user__username="carol")
    client.post(
        action_url(thread), {"action": "ban", "participant": carol_row.pk, "reason": "Abuse"}
    )
    ban = Ban.objects.get()
    assert ban.user == carol_row.user
    assert ban.reason == "Abuse"
    assert ban.created_by == moderator
    page = client.get(inspect_url(thread)).content.decode()
    assert "blocked site-wide" in page
    # What Carol sends now is held: the seller receives nothing.
    posted = conversations.post_message(
        actor=Actor.for_user(carol_row.user), thread=thread, body="Still there?"
    )
    assert posted.message.state == Message.State.HELD
    assert thread.participants.get(user=seller).unread_count == 1  # only the first one

    # Lifting the block from the "Site-wide blocks" listing.
    assert str(carol_row.user) in client.get(BANS).content.decode()
    delete = reverse("messenger_bans:delete", args=[ban.pk])
    assert client.get(delete).status_code == 200
    client.post(delete)
    assert not Ban.objects.exists()
    later = conversations.post_message(
        actor=Actor.for_user(carol_row.user), thread=thread, body="Hello again"
    )
    assert later.message.state == Message.State.VISIBLE


def test_block_a_guest_site_wide(scene, moderator, login):
    thread = scene["held"]
    gus = thread.participants.get(email="gus@example.net")
    login(moderator).post(action_url(thread), {"action": "ban", "participant": gus.pk})
    assert Ban.objects.get().email == "gus@example.net"


def test_dismiss_reports(scene, moderator, login):
    login(moderator).post(
        action_url(scene["reported"]),
        {"action": "dismiss", "message": scene["reported_message"].pk},
    )
    report = Report.objects.get()
    assert report.status == Report.Status.DISMISSED
    assert report.resolved_by == moderator
    scene["reported_message"].refresh_from_db()
    assert scene["reported_message"].state == Message.State.VISIBLE


def test_delete_a_thread(scene, moderator, login):
    client = login(moderator)
    thread = scene["reported"]
    delete = reverse("messenger_threads:delete", args=[thread.pk])
    assert client.get(delete).status_code == 200
    client.post(delete)
    assert not Thread.objects.filter(pk=thread.pk).exists()
    assert not Message.objects.filter(thread_id=thread.pk).exists()
    entry = ModelLogEntry.objects.get(action="wagtail.delete", object_id=str(thread.pk))
    assert entry.user == moderator


# -- bulk actions ---------------------------------------------------------------------------


def test_bulk_mark_spam_and_close(scene, moderator, login):
    client = login(moderator)
    confirm = client.get(bulk_url("messenger_spam", scene["plain"], scene["reported"]))
    assert confirm.status_code == 200
    assert "Mark these conversations as spam?" in confirm.content.decode()
    response = client.post(bulk_url("messenger_spam", scene["plain"], scene["reported"]))
    assert response.status_code == 302
    assert set(Thread.objects.filter(status=Thread.Status.SPAM).values_list("pk", flat=True)) == {
        scene["plain"].pk,
        scene["reported"].pk,
    }
    client.post(bulk_url("messenger_close", scene["held"]))
    scene["held"].refresh_from_db()
    assert scene["held"].status == Thread.Status.CLOSED


def test_bulk_delete(scene, moderator, login):
    client = login(moderator)
    client.post(bulk_url("messenger_delete", scene["plain"], scene["held"]))
    assert list(Thread.objects.values_list("pk", flat=True)) == [scene["reported"].pk]
    assert ModelLogEntry.objects.filter(action="wagtail.delete").count() == 2


def test_listing_offers_the_bulk_actions(scene, moderator, login):
    page = login(moderator).get(THREADS).content.decode()
    for action in ("messenger_spam", "messenger_close", "messenger_delete"):
        assert f"/wagtail_messenger/thread/{action}/" in page


# -- queue and audit log --------------------------------------------------------------------


def test_queue_lists_reported_and_held_messages(scene, moderator, login):
    client = login(moderator)
    page = client.get(QUEUE).content.decode()
    assert "You are an idiot" in page
    assert "Cheap watches" in page
    assert "Is the bike still available?" not in page
    assert "1 report: Insulting" in page
    assert f"{inspect_url(scene['held'])}#message-{scene['held_message'].pk}" in page
    moderation.release_message(moderator, scene["held_message"].pk)
    moderation.dismiss_reports(moderator, scene["reported_message"].pk)
    page = client.get(QUEUE).content.decode()
    assert "Cheap watches" not in page
    assert "You are an idiot" not in page
    home = client.get(reverse("wagtailadmin_home")).content.decode()
    assert "Review queue (" not in home


def test_every_action_is_in_the_audit_log(scene, moderator, login):
    client = login(moderator)
    thread, message = scene["reported"], scene["reported_message"]
    carol = thread.participants.get(user__username="carol")
    steps = [
        ({"action": "hide", "message": message.pk, "reason": "Rude"}, "wagtail_messenger.hide"),
        ({"action": "unhide", "message": message.pk}, "wagtail_messenger.unhide"),
        ({"action": "close"}, "wagtail_messenger.close"),
        ({"action": "reopen"}, "wagtail_messenger.reopen"),
        ({"action": "spam"}, "wagtail_messenger.spam"),
        ({"action": "not_spam"}, "wagtail_messenger.not_spam"),
        ({"action": "ban", "participant": carol.pk}, "wagtail_messenger.ban"),
    ]
    for data, action in steps:
        client.post(action_url(thread), data)
        entry = ModelLogEntry.objects.filter(action=action).latest("pk")
        assert entry.user == moderator
        assert entry.object_id == str(thread.pk)
    history = client.get(reverse("messenger_threads:history", args=[thread.pk]))
    assert history.status_code == 200
    text = history.content.decode()
    assert f"Hid message #{message.pk}: Rude" in text
    assert "Closed the conversation" in text
    assert "Blocked carol site-wide" in text


def test_site_history_links_entries_to_the_thread(scene, moderator, make_user, login):
    moderation.hide_message(moderator, scene["reported_message"].pk, "Rude")
    root = make_user("root", is_superuser=True, is_staff=True)
    response = login(root).get(reverse("wagtailadmin_reports:site_history"))
    assert response.status_code == 200
    page = response.content.decode()
    assert f"Hid message #{scene['reported_message'].pk}: Rude" in page
    assert inspect_url(scene["reported"]) in page


def test_unban_is_logged(scene, moderator):
    carol = scene["reported"].participants.get(user__username="carol")
    ban = moderation.ban_sender(moderator, carol.pk)
    moderation.unban(moderator, ban.pk)
    assert ModelLogEntry.objects.filter(action="wagtail_messenger.unban").count() == 1
