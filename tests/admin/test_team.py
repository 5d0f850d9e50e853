"""The moderation team (issue 21): private staff notes and assignment, used through the
admin as a moderator, an editor (admin access, no moderation) and a plain user, and
checked from the participants' side (thread page, poll JSON, emails)."""

import pytest
from django.urls import reverse
from wagtail.models import ModelLogEntry

from wagtail_messenger.actors import Actor
from wagtail_messenger.models import StaffNote, Thread
from wagtail_messenger.services import conversations

from .test_moderation import QUEUE, THREADS, action_url, titles

SECRET = "Seller is known for fake listings"


@pytest.fixture
def other_moderator(make_user, moderator):
    user = make_user("otto", first_name="Otto")
    user.groups.add(*moderator.groups.all())
    return user


def add_note(client, thread, text=SECRET):
    return client.post(action_url(thread), {"action": "note", "text": text}, follow=True)


# -- staff notes ----------------------------------------------------------------------------


def test_moderator_adds_a_note_shown_with_author_and_audit_entry(scene, moderator, login):
    client = login(moderator)
    thread = scene["plain"]
    response = add_note(client, thread)
    assert response.status_code == 200
    page = response.content.decode()
    assert "The note was added. Only moderators see it." in page
    assert SECRET in page
    assert "Moderator" in page  # the author's name
    note = StaffNote.objects.get(thread=thread)
    assert note.author == moderator
    entry = ModelLogEntry.objects.get(action="wagtail_messenger.note", object_id=str(thread.pk))
    assert entry.user == moderator
    history = client.get(reverse("messenger_threads:history", args=[thread.pk]))
    assert "Added a staff note" in history.content.decode()


def test_an_empty_or_too_long_note_is_refused_with_a_message(scene, moderator, login):
    client = login(moderator)
    for text in ("   ", "x" * 4001):
        response = add_note(client, scene["plain"], text)
        assert response.status_code == 200
        assert not StaffNote.objects.exists()
    assert "A note has at most 4000 characters." in response.content.decode()


def test_a_note_needs_csrf(scene, moderator, client):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(moderator)
    response = strict.post(action_url(scene["plain"]), {"action": "note", "text": SECRET})
    assert response.status_code == 403
    assert not StaffNote.objects.exists()


def test_non_moderators_cannot_add_notes_or_assign(scene, moderator, editor, plain_user, login):
    thread = scene["plain"]
    for user in (editor, plain_user):
        client = login(user)
        for data in (
            {"action": "note", "text": SECRET},
            {"action": "assign_me"},
            {"action": "assign", "assignee": moderator.pk},
        ):
            response = client.post(action_url(thread), data)
            assert response.status_code in (302, 403)
            assert "/login/" in response["Location"] or response["Location"] == reverse(
                "wagtailadmin_home"
            )
    thread.refresh_from_db()
    assert thread.assignee is None
    assert not StaffNote.objects.exists()


def test_participants_never_see_a_note(
    scene, moderator, login, buyer, seller, client, mailoutbox, django_capture_on_commit_callbacks
):
    thread = scene["plain"]
    add_note(login(moderator), thread)
    client.logout()
    for person in (buyer, seller):
        client.force_login(person)
        page = client.get(f"/messages/{thread.pk}/")
        assert page.status_code == 200
        assert SECRET not in page.content.decode()
        poll = client.get(f"/messages/{thread.pk}/poll/?after=0")
        assert SECRET not in poll.content.decode()
    # A reply notifies the other party: the email does not carry the note either.
    with django_capture_on_commit_callbacks(execute=True):
        conversations.post_message(actor=Actor.for_user(seller), thread=thread, body="Yes!")
    assert mailoutbox, "the buyer was notified"
    for email in mailoutbox:
        assert SECRET not in email.body
        assert all(SECRET not in str(content) for content, _ in email.alternatives)


# -- assignment -----------------------------------------------------------------------------


def test_assign_to_me_unassign_and_to_another_moderator(scene, moderator, other_moderator, login):
    client = login(moderator)
    thread = scene["plain"]
    page = client.post(action_url(thread), {"action": "assign_me"}, follow=True)
    assert "The conversation is assigned to you." in page.content.decode()
    thread.refresh_from_db()
    assert thread.assignee == moderator

    page = client.post(
        action_url(thread), {"action": "assign", "assignee": other_moderator.pk}, follow=True
    )
    thread.refresh_from_db()
    assert thread.assignee == other_moderator
    assert "Otto" in page.content.decode()

    client.post(action_url(thread), {"action": "unassign"})
    thread.refresh_from_db()
    assert thread.assignee is None
    actions = list(
        ModelLogEntry.objects.filter(object_id=str(thread.pk))
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions[-3:] == [
        "wagtail_messenger.assign",
        "wagtail_messenger.assign",
        "wagtail_messenger.unassign",
    ]
    history = client.get(reverse("messenger_threads:history", args=[thread.pk])).content.decode()
    assert "Assigned the conversation to Otto" in history


def test_only_a_moderator_can_be_assigned(scene, moderator, buyer, login):
    client = login(moderator)
    thread = scene["plain"]
    for value in (buyer.pk, "x", "", 10**30):
        response = client.post(action_url(thread), {"action": "assign", "assignee": value})
        assert response.status_code == 302
    thread.refresh_from_db()
    assert thread.assignee is None
    page = client.post(
        action_url(thread), {"action": "assign", "assignee": buyer.pk}, follow=True
    ).content.decode()
    assert "Only a moderator can be assigned a conversation." in page


def test_taking_a_reported_message_from_the_queue(scene, moderator, login):
    client = login(moderator)
    queue = client.get(QUEUE).content.decode()
    assert "Assign to me" in queue
    thread = scene["reported"]
    response = client.post(action_url(thread), {"action": "assign_me", "next": QUEUE}, follow=False)
    assert response["Location"] == QUEUE
    thread.refresh_from_db()
    assert thread.assignee == moderator
    mine = client.get(QUEUE + "?assignee=me").content.decode()
    assert "You are an idiot" in mine
    assert "Cheap watches" not in mine
    unassigned = client.get(QUEUE + "?assignee=none").content.decode()
    assert "Cheap watches" in unassigned
    assert "You are an idiot" not in unassigned


def test_thread_list_filters_by_assignee(scene, moderator, other_moderator, login):
    Thread.objects.filter(pk=scene["plain"].pk).update(assignee=moderator)
    Thread.objects.filter(pk=scene["held"].pk).update(assignee=other_moderator)
    client = login(moderator)
    assert titles(client.get(THREADS + "?assignee=me")) == {scene["plain"].pk}
    assert titles(client.get(THREADS + "?assignee=none")) == {scene["reported"].pk}
    assert titles(client.get(THREADS + f"?assignee={other_moderator.pk}")) == {scene["held"].pk}
    assert client.get(THREADS + "?assignee=%C2%B9").status_code == 200  # "¹": not a 500


def test_dashboard_counts_what_is_assigned_to_you(scene, moderator, other_moderator, login):
    Thread.objects.filter(pk__in=[scene["plain"].pk, scene["reported"].pk]).update(
        assignee=moderator
    )
    Thread.objects.filter(pk=scene["held"].pk).update(assignee=other_moderator)
    home = login(moderator).get(reverse("wagtailadmin_home")).content.decode()
    assert "conversations assigned to you" in home
    assert '2 <span class="w-sr-only">Messenger:</span>conversations assigned to you' in home
