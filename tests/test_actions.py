"""Per-thread, bulk, message and people actions: from the page, without JavaScript, and
enforced by the service layer."""

from html.parser import HTMLParser

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from wagtail_messenger.actors import GUEST_SESSION_KEY, Actor
from wagtail_messenger.exceptions import NotAllowed
from wagtail_messenger.models import Block, Message, MessengerSettings, Participant, Report
from wagtail_messenger.services import conversations, participation, safety
from wagtail_messenger.services.parties import Party

pytestmark = pytest.mark.django_db

INBOX = reverse("wagtail_messenger:inbox")
Folder = Participant.Folder


class Forms(HTMLParser):
    """The POST forms of a page: action, hidden fields and submit buttons (with their
    ``formaction``), which is all a browser without JavaScript has. A button outside
    its form names it with the ``form`` attribute, as browsers honour."""

    def __init__(self, html):
        super().__init__()
        self.forms, self._current, self._by_id, self._outside = [], None, {}, []
        self.feed(html)
        for attrs in self._outside:
            if attrs["form"] in self._by_id:
                self._by_id[attrs["form"]]["buttons"].append(attrs)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and attrs.get("method", "").lower() == "post":
            self._current = {"action": attrs.get("action", ""), "fields": {}, "buttons": []}
            self.forms.append(self._current)
            if attrs.get("id"):
                self._by_id[attrs["id"]] = self._current
        elif tag == "button" and attrs.get("form"):
            self._outside.append(attrs)
        elif self._current is not None and tag == "input" and attrs.get("type") == "hidden":
            self._current["fields"][attrs["name"]] = attrs.get("value", "")
        elif self._current is not None and tag == "button":
            self._current["buttons"].append(attrs)

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None


def submit(client, page_url, target, *, value=None, data=None, follow=True):
    """Load ``page_url``, find the form (or button ``formaction``) posting to ``target``
    and submit it the way a browser would, with the CSRF token of the page."""
    page = client.get(page_url)
    assert page.status_code == 200
    for form in Forms(page.content.decode()).forms:
        for button in form["buttons"] or [{}]:
            action = button.get("formaction") or form["action"]
            if action != target or (value is not None and button.get("value") != value):
                continue
            fields = dict(form["fields"])
            if button.get("name"):
                fields[button["name"]] = button.get("value", "")
            fields.update(data or {})
            return client.post(action, fields, follow=follow)
    raise AssertionError(f"No form posts to {target} on {page_url}")


def action_url(thread, action):
    return reverse("wagtail_messenger:thread_action", args=[thread.pk, action])


def notices(response):
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def csrf_client():
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def conversation(start, buyer, seller, listing):
    return start(buyer, seller, listing=listing, body="Is it still available?").thread


def row(thread, user):
    return thread.participants.get(user=user)


# -- per-thread actions from the thread page and the inbox ---------------------------------


@pytest.mark.parametrize(
    ("action", "field", "before", "after", "notice"),
    [
        ("flag", "flagged", False, True, "Conversation flagged as important."),
        ("mute", "muted", False, True, "Notifications muted for this conversation."),
        ("archive", "folder", Folder.INBOX, Folder.ARCHIVE, "Conversation archived."),
        ("trash", "folder", Folder.INBOX, Folder.TRASH, "Conversation moved to the trash."),
        ("unread", "unread_count", 0, 1, "Marked as unread."),
    ],
)
def test_thread_actions_from_the_thread_page_without_javascript(
    csrf_client, conversation, seller, action, field, before, after, notice
):
    csrf_client.force_login(seller)
    page = conversation.get_absolute_url()
    assert getattr(row(conversation, seller), field) == before or action == "unread"
    response = submit(csrf_client, page, action_url(conversation, action))
    # Back to where the action was taken; "unread" goes to the inbox, as reopening the
    # thread would read it again.
    back = INBOX if action == "unread" else page
    assert response.redirect_chain[-1][0] == back
    assert any(n.startswith(notice) for n in notices(response))
    assert getattr(row(conversation, seller), field) == after


@pytest.mark.parametrize(
    ("setup", "action", "field", "after"),
    [
        ("flag", "unflag", "flagged", False),
        ("mute", "unmute", "muted", False),
        ("archive", "unarchive", "folder", Folder.INBOX),
        ("trash", "restore", "folder", Folder.INBOX),
    ],
)
def test_undo_actions_are_offered_in_their_place(
    csrf_client, conversation, seller, setup, action, field, after
):
    csrf_client.force_login(seller)
    page = conversation.get_absolute_url()
    submit(csrf_client, page, action_url(conversation, setup))
    assert getattr(row(conversation, seller), field) != after
    submit(csrf_client, page, action_url(conversation, action))
    assert getattr(row(conversation, seller), field) == after


def test_flag_and_mark_read_from_the_inbox(csrf_client, conversation, seller):
    csrf_client.force_login(seller)
    response = submit(csrf_client, INBOX, action_url(conversation, "flag"))
    assert row(conversation, seller).flagged
    assert "wm-flag wm-flag--on" in response.content.decode()
    assert row(conversation, seller).unread_count == 1
    submit(
        csrf_client,
        INBOX,
        reverse("wagtail_messenger:bulk_action"),
        value="read",
        data={"thread": [conversation.pk]},
    )
    assert row(conversation, seller).unread_count == 0


def test_trash_is_per_person(client, conversation, buyer, seller):
    client.force_login(seller)
    client.post(action_url(conversation, "trash"))
    assert row(conversation, seller).folder == Folder.TRASH
    assert row(conversation, buyer).folder == Folder.INBOX
    client.force_login(buyer)
    assert [r.thread_id for r in client.get(INBOX).context["rows"]] == [conversation.pk]


def test_actions_answer_json_when_asked(client, conversation, seller):
    client.force_login(seller)
    response = client.post(action_url(conversation, "flag"), HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json() == {
        "ok": True,
        "message": "Conversation flagged as important.",
        "action": "flag",
        "thread": conversation.pk,
    }


def test_a_script_saying_only_x_requested_with_gets_json_too(client, conversation, seller):
    """One rule for every view and error page (``views.content.wants_json``): a fetch
    that sends ``X-Requested-With`` without ``Accept`` gets the JSON answer, not a
    redirect to a page it cannot show."""
    client.force_login(seller)
    response = client.post(action_url(conversation, "flag"), HTTP_X_REQUESTED_WITH="fetch")
    assert response.status_code == 200
    assert response.json()["ok"] is True
    assert client.post(action_url(conversation, "flag")).status_code == 302


def test_actions_need_post_and_csrf(csrf_client, conversation, seller):
    csrf_client.force_login(seller)
    assert csrf_client.get(action_url(conversation, "flag")).status_code == 405
    assert csrf_client.post(action_url(conversation, "flag")).status_code == 403
    assert not row(conversation, seller).flagged


def test_foreign_and_unknown_ids_answer_404(client, conversation, make_user):
    client.force_login(make_user("stranger"))
    message = conversation.messages.get()
    other = conversation.participants.first()
    for url in (
        action_url(conversation, "trash"),
        reverse("wagtail_messenger:thread_action", args=[999999, "flag"]),
        reverse("wagtail_messenger:thread_action", args=[conversation.pk, "explode"]),
        reverse("wagtail_messenger:remove_message", args=[message.pk]),
        reverse("wagtail_messenger:report_message", args=[message.pk]),
        reverse("wagtail_messenger:block", args=[other.pk]),
        reverse("wagtail_messenger:unblock", args=[other.pk]),
    ):
        assert client.post(url).status_code == 404, url
        response = client.post(url, HTTP_ACCEPT="application/json")
        assert response.status_code == 404
        assert response.json()["ok"] is False
    assert not Report.objects.exists() and not Block.objects.exists()
    assert set(conversation.participants.values_list("folder", flat=True)) == {Folder.INBOX}


def test_anonymous_posts_are_sent_to_log_in(client, conversation):
    response = client.post(action_url(conversation, "flag"))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_service_refuses_a_stranger_whatever_the_page_shows(conversation, make_user):
    stranger = Actor.for_user(make_user("stranger"))
    for act in (participation.archive, participation.trash, participation.mark_read):
        with pytest.raises(NotAllowed):
            act(stranger, conversation.pk)
    assert participation.trash(stranger, [conversation.pk]) == 0
    assert set(conversation.participants.values_list("folder", flat=True)) == {Folder.INBOX}


def test_a_guest_acts_through_their_proven_email(client, start, seller):
    thread = start(Party.guest("Gus", "gus@example.com"), seller).thread
    session = client.session
    session[GUEST_SESSION_KEY] = "gus@example.com"
    session.save()
    client.post(action_url(thread, "archive"))
    assert thread.participants.get(kind="guest").folder == Folder.ARCHIVE


# -- bulk ----------------------------------------------------------------------------------


def test_bulk_actions_touch_only_the_actors_own_threads(client, start, seller, make_user, buyer):
    mine = [start(make_user(), seller).thread for _ in range(3)]
    foreign = start(buyer, make_user("someone")).thread
    client.force_login(seller)
    response = client.post(
        reverse("wagtail_messenger:bulk_action"),
        {"action": "archive", "thread": [t.pk for t in mine] + [foreign.pk, "junk"]},
        follow=True,
    )
    assert "3 conversations archived." in notices(response)
    assert {row(t, seller).folder for t in mine} == {Folder.ARCHIVE}
    assert set(foreign.participants.values_list("folder", flat=True)) == {Folder.INBOX}

    response = client.post(
        reverse("wagtail_messenger:bulk_action"),
        {"action": "trash", "thread": [mine[0].pk], "next": INBOX + "?view=archive"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == INBOX + "?view=archive"
    assert "1 conversation moved to the trash." in notices(response)


def test_bulk_mark_read_from_the_inbox_page(csrf_client, start, seller, make_user):
    threads = [start(make_user(), seller).thread for _ in range(3)]
    csrf_client.force_login(seller)
    response = submit(
        csrf_client,
        INBOX,
        reverse("wagtail_messenger:bulk_action"),
        value="read",
        data={"thread": [t.pk for t in threads[:2]]},
    )
    assert "2 conversations marked as read." in notices(response)
    assert [row(t, seller).unread_count for t in threads] == [0, 0, 1]


def test_bulk_without_a_selection_says_so(client, conversation, seller):
    client.force_login(seller)
    response = client.post(
        reverse("wagtail_messenger:bulk_action"), {"action": "trash"}, follow=True
    )
    assert "Select at least one conversation first." in notices(response)
    response = client.post(
        reverse("wagtail_messenger:bulk_action"),
        {"action": "explode", "thread": [conversation.pk]},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 400
    assert response.json()["ok"] is False


# -- removing and reporting messages -------------------------------------------------------


def test_removing_ones_own_message_shows_message_removed_to_the_other_party(
    csrf_client, conversation, buyer, seller
):
    message = conversation.messages.get()
    csrf_client.force_login(buyer)
    remove = reverse("wagtail_messenger:remove_message", args=[message.pk])
    response = submit(csrf_client, conversation.get_absolute_url(), remove)
    assert "Your message was removed." in notices(response)
    message.refresh_from_db()
    assert message.state == Message.State.REMOVED
    assert row(conversation, seller).unread_count == 0
    csrf_client.force_login(seller)
    html = csrf_client.get(INBOX).content.decode()
    assert "Message removed" in html
    assert "Is it still available?" not in html


def test_removal_follows_the_site_setting(client, site, conversation, buyer):
    MessengerSettings.objects.update_or_create(
        site=site, defaults={"users_may_remove_messages": False}
    )
    message = conversation.messages.get()
    client.force_login(buyer)
    page = client.get(conversation.get_absolute_url()).content.decode()
    remove = reverse("wagtail_messenger:remove_message", args=[message.pk])
    assert remove not in page, "no button when the site does not allow it"
    response = client.post(remove, follow=True)
    assert "Messages cannot be removed on this site." in notices(response)
    message.refresh_from_db()
    assert message.state == Message.State.VISIBLE


def test_nobody_removes_someone_elses_message(client, conversation, seller):
    message = conversation.messages.get()
    client.force_login(seller)
    page = client.get(conversation.get_absolute_url()).content.decode()
    assert reverse("wagtail_messenger:remove_message", args=[message.pk]) not in page
    response = client.post(
        reverse("wagtail_messenger:remove_message", args=[message.pk]),
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 403
    assert response.json()["message"] == "You can only remove your own messages."
    with pytest.raises(NotAllowed):
        participation.remove_message(Actor.for_user(seller), message.pk)
    message.refresh_from_db()
    assert message.state == Message.State.VISIBLE


def test_reporting_a_message_with_a_reason(csrf_client, conversation, seller):
    message = conversation.messages.get()
    csrf_client.force_login(seller)
    report = reverse("wagtail_messenger:report_message", args=[message.pk])
    response = submit(
        csrf_client, conversation.get_absolute_url(), report, data={"reason": "Asks for a deposit"}
    )
    assert "Thank you. The moderators will look at this message." in notices(response)
    saved = Report.objects.get()
    assert (saved.message, saved.reason, saved.reporter.user) == (
        message,
        "Asks for a deposit",
        seller,
    )


def test_one_cannot_report_ones_own_message(client, conversation, buyer):
    message = conversation.messages.get()
    client.force_login(buyer)
    response = client.post(
        reverse("wagtail_messenger:report_message", args=[message.pk]), follow=True
    )
    assert "You cannot report your own message." in notices(response)
    assert not Report.objects.exists()


# -- blocking ------------------------------------------------------------------------------


def test_blocking_from_the_thread_page_and_what_the_blocked_person_sees(
    csrf_client, conversation, buyer, seller
):
    buyer_row = row(conversation, buyer)
    participation.mark_read(Actor.for_user(seller), conversation.pk)
    participation.archive(Actor.for_user(seller), conversation.pk)
    csrf_client.force_login(seller)
    block = reverse("wagtail_messenger:block", args=[buyer_row.pk])
    response = submit(csrf_client, conversation.get_absolute_url(), block)
    assert any(n.startswith("You blocked Buyer.") for n in notices(response))
    assert Block.objects.filter(blocker=seller, blocked_user=buyer).exists()
    mail.outbox.clear()

    # The blocked person can still write and is not told.
    csrf_client.force_login(buyer)
    page = csrf_client.get(conversation.get_absolute_url())
    assert page.status_code == 200
    assert "blocked" not in page.content.decode().lower()
    conversations.post_message(
        actor=Actor.for_user(buyer), thread=conversation, body="Hello? Anyone there?"
    )
    inbox = csrf_client.get(INBOX).content.decode()
    assert "wm-row--blocked" not in inbox and "Blocked" not in inbox

    # Nothing reaches the blocker: no unread count, no email, no return from the archive.
    mine = row(conversation, seller)
    assert (mine.unread_count, mine.folder) == (0, Folder.ARCHIVE)
    assert not [m for m in mail.outbox if seller.email in m.to]
    csrf_client.force_login(seller)
    page = csrf_client.get(conversation.get_absolute_url()).content.decode()
    assert "Hello? Anyone there?" not in page

    # Unblocking shows what arrived meanwhile, back in the inbox.
    unblock = reverse("wagtail_messenger:unblock", args=[buyer_row.pk])
    response = submit(csrf_client, INBOX + "?view=archive", unblock, follow=False)
    assert response.status_code == 302
    mine = row(conversation, seller)
    assert (mine.unread_count, mine.folder, mine.peer_blocked) == (1, Folder.INBOX, False)
    response = csrf_client.get(INBOX)
    assert any(n.startswith("You unblocked Buyer.") for n in notices(response))
    assert "Hello? Anyone there?" in response.content.decode()
    page = csrf_client.get(conversation.get_absolute_url()).content.decode()
    assert "Hello? Anyone there?" in page


def test_blocked_senders_new_threads_do_not_reach_the_blocker(
    client, start, conversation, buyer, seller, make_listing
):
    safety.block(Actor.for_user(seller), row(conversation, buyer).pk)
    other = start(buyer, seller, listing=make_listing("Another bike"), body="New thread").thread
    assert row(other, seller).unread_count == 0
    client.force_login(seller)
    rows = client.get(INBOX).context["rows"]
    assert all(r.peer_blocked for r in rows)
    assert "New thread" not in client.get(INBOX).content.decode()


def test_guests_cannot_block(client, start, seller):
    thread = start(Party.guest("Gus", "gus@example.com"), seller).thread
    session = client.session
    session[GUEST_SESSION_KEY] = "gus@example.com"
    session.save()
    seller_row = row(thread, seller)
    page = client.get(thread.get_absolute_url()).content.decode()
    assert reverse("wagtail_messenger:block", args=[seller_row.pk]) not in page
    response = client.post(reverse("wagtail_messenger:block", args=[seller_row.pk]), follow=True)
    assert "Log in to block people." in notices(response)
    assert not Block.objects.exists()


def test_a_user_can_block_a_guest(client, start, seller):
    thread = start(Party.guest("Gus", "gus@example.com"), seller).thread
    client.force_login(seller)
    client.post(reverse("wagtail_messenger:block", args=[thread.participants.get(kind="guest").pk]))
    assert Block.objects.filter(blocker=seller, blocked_email="gus@example.com").exists()
    assert row(thread, seller).peer_blocked


def test_a_blocked_guest_who_signs_up_stays_blocked(start, seller, make_user):
    """A seller blocked a guest (by their proven email). The guest then opens an account
    with that email and logs in: their guest conversations become the account's, and
    the block follows them, so what they write still reaches nobody who blocked them."""
    from wagtail_messenger.services import access, guests

    gus = make_user("gus", email="gus@example.com")
    # Gus had written to the seller from the account before, then as a guest.
    earlier = start(gus, seller, body="From my account").thread
    thread = start(Party.guest("Gus", "gus@example.com"), seller).thread
    safety.block(Actor.for_user(seller), thread.participants.get(kind="guest").pk)
    unread = row(thread, seller).unread_count
    assert guests.claim_guest_threads(gus, "gus@example.com") == 1
    conversations.post_message(actor=Actor.for_user(gus), thread=thread, body="It's me again")
    conversations.post_message(actor=Actor.for_user(gus), thread=earlier, body="Hello?")
    seen = access.visible_messages(Actor.for_user(seller), thread, participant=row(thread, seller))
    assert "It's me again" not in [m.body for m in seen]
    assert row(thread, seller).unread_count == unread
    assert row(earlier, seller).unread_count == 1, "what came before the block still counts"
    assert row(thread, seller).peer_blocked and row(earlier, seller).peer_blocked
