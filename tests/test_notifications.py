"""Notification emails: modes, switches, content, headers and the mute link.

Tasks run on the immediate backend (tests/settings.py) once the writing transaction
commits; ``send`` runs a service call and then its on-commit work, as in a request.
"""

import re
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import resolve, reverse

from wagtail_messenger import tasks
from wagtail_messenger.models import (
    Ban,
    ContactPreference,
    Message,
    MessengerSettings,
    Notification,
    OutboxEmail,
    Participant,
)
from wagtail_messenger.services import (
    conversations,
    guests,
    mailer,
    moderation,
    notifications,
    participation,
    safety,
)
from wagtail_messenger.services.parties import Party

pytestmark = pytest.mark.django_db

Mode = MessengerSettings.NotificationMode


@pytest.fixture
def conversation(send, start, buyer, seller, listing, mailoutbox):
    """A thread the buyer started about the listing; the outbox is emptied after."""
    posted = send(start, buyer, seller, listing=listing)
    mailoutbox.clear()
    return posted.thread


def reply(send, actor, user, thread, body="One more thing"):
    return send(conversations.post_message, actor=actor(user), thread=thread, body=body).message


def to(outbox, address):
    return [m for m in outbox if address in m.recipients()]


def html_of(email):
    return next(content for content, kind in email.alternatives if kind == "text/html")


def links(text):
    return re.findall(r"https?://[^\s\"<>]+", text)


# -- modes ----------------------------------------------------------------------------------


def test_ten_quick_messages_give_one_email_in_the_default_mode(
    send, start, actor, buyer, seller, listing, mailoutbox
):
    assert MessengerSettings.for_site(listing.get_site()).notification_mode == Mode.ROUND
    posted = send(start, buyer, seller, listing=listing)
    for n in range(9):
        reply(send, actor, buyer, posted.thread, body=f"Line {n}")
    assert posted.thread.messages.count() == 10
    assert len(to(mailoutbox, "seller@example.com")) == 1
    assert len(mailoutbox) == 1, "the sender is never emailed about their own messages"


def test_a_new_round_starts_once_the_recipient_has_read_the_thread(
    send, conversation, actor, buyer, seller, mailoutbox
):
    reply(send, actor, buyer, conversation)
    assert mailoutbox == []
    participation.mark_read(actor(seller), conversation.pk)
    reply(send, actor, buyer, conversation, body="Are you there?")
    reply(send, actor, buyer, conversation, body="Hello?")
    assert len(to(mailoutbox, "seller@example.com")) == 1


def test_replying_counts_as_reading(send, conversation, actor, buyer, seller, mailoutbox):
    reply(send, actor, seller, conversation, body="Yes, still available")
    assert len(to(mailoutbox, "buyer@example.com")) == 1
    reply(send, actor, buyer, conversation, body="Great, tomorrow?")
    assert len(to(mailoutbox, "seller@example.com")) == 1


def test_round_mode_holds_whatever_the_worker_delay(
    start, actor, buyer, seller, listing, mailoutbox, django_capture_on_commit_callbacks
):
    """Ten messages queued before the worker runs any of their tasks: still one email."""
    with django_capture_on_commit_callbacks() as queued:
        posted = start(buyer, seller, listing=listing)
    for n in range(9):
        with django_capture_on_commit_callbacks() as more:
            conversations.post_message(actor=actor(buyer), thread=posted.thread, body=f"{n}")
        queued.extend(more)
    for callback in queued:
        callback()
    assert len(mailoutbox) == 1


def test_a_message_already_read_when_the_worker_runs_sends_nothing(
    start, actor, buyer, seller, listing, mailoutbox, django_capture_on_commit_callbacks, set_mode
):
    set_mode(Mode.EVERY)
    with django_capture_on_commit_callbacks() as queued:
        posted = start(buyer, seller, listing=listing)
    participation.mark_read(actor(seller), posted.thread.pk)
    for callback in queued:
        callback()
    assert mailoutbox == []


def test_every_mode_sends_one_email_per_message(
    send, start, actor, buyer, seller, listing, mailoutbox, set_mode
):
    set_mode(Mode.EVERY)
    posted = send(start, buyer, seller, listing=listing)
    for n in range(9):
        reply(send, actor, buyer, posted.thread, body=f"Line {n}")
    seller_mail = to(mailoutbox, "seller@example.com")
    assert len(seller_mail) == 10
    assert "Line 8" in seller_mail[-1].body


def test_never_mode_sends_nothing(send, start, actor, buyer, seller, listing, mailoutbox, set_mode):
    set_mode(Mode.NEVER)
    posted = send(start, buyer, seller, listing=listing)
    reply(send, actor, seller, posted.thread, body="Yes")
    assert mailoutbox == []
    assert not Notification.objects.exists()


# -- who never gets an email ----------------------------------------------------------------


def test_muted_thread_sends_nothing_until_unmuted(
    send, conversation, actor, buyer, seller, mailoutbox, set_mode
):
    set_mode(Mode.EVERY)
    participation.set_muted(actor(seller), conversation.pk)
    reply(send, actor, buyer, conversation)
    assert mailoutbox == []
    participation.set_muted(actor(seller), conversation.pk, muted=False)
    reply(send, actor, buyer, conversation, body="And now?")
    assert len(to(mailoutbox, "seller@example.com")) == 1


def test_user_who_switched_emails_off_gets_none(
    send, start, actor, buyer, seller, listing, mailoutbox, set_mode
):
    set_mode(Mode.EVERY)
    ContactPreference.objects.create(user=seller, email_frequency="never")
    posted = send(start, buyer, seller, listing=listing)
    reply(send, actor, seller, posted.thread, body="Yes")
    assert [m.to for m in mailoutbox] == [["buyer@example.com"]]


def test_blocked_sender_reaches_no_mailbox(
    send, conversation, actor, buyer, seller, mailoutbox, set_mode
):
    set_mode(Mode.EVERY)
    buyer_row = conversation.participants.get(user=buyer)
    safety.block(actor(seller), buyer_row.pk)
    reply(send, actor, buyer, conversation, body="Why no answer?")
    assert mailoutbox == []
    assert conversation.messages.count() == 2, "the message itself is saved"


def test_deleted_recipient_gets_nothing_and_nothing_fails(
    send, conversation, actor, buyer, seller, mailoutbox, set_mode
):
    set_mode(Mode.EVERY)
    seller.delete()
    reply(send, actor, buyer, conversation, body="Hello?")
    assert mailoutbox == []
    assert Notification.objects.count() == 1, "only the email sent before the deletion"


def test_held_message_sends_nothing_until_released(
    send, conversation, actor, buyer, seller, moderator, mailoutbox, set_mode
):
    set_mode(Mode.EVERY)
    Ban.objects.create(user=buyer, reason="test")
    held = reply(send, actor, buyer, conversation, body="Buy cheap watches")
    assert held.state == Message.State.HELD
    assert to(mailoutbox, "seller@example.com") == []
    participation.mark_read(actor(seller), conversation.pk)  # read before the release

    send(moderation.release_message, moderator, held.pk)
    seller_mail = to(mailoutbox, "seller@example.com")
    assert len(seller_mail) == 1
    assert "Buy cheap watches" in seller_mail[0].body


def test_team_members_get_one_email_without_seeing_each_other(
    send, start, buyer, make_user, mailoutbox
):
    team = Group.objects.create(name="Sales")
    anna, ben, quiet = make_user("anna"), make_user("ben"), make_user("quiet")
    for member in (anna, ben, quiet):
        member.groups.add(team)
    ContactPreference.objects.create(user=quiet, email_frequency="never")
    send(start, buyer, Party.team(team), subject="Bulk order")
    assert len(mailoutbox) == 1
    email = mailoutbox[0]
    assert sorted(email.recipients()) == ["anna@example.com", "ben@example.com"]
    assert email.to == [] and "anna@example.com" not in str(email.message())
    assert "for your team" in email.body


# -- idempotency ----------------------------------------------------------------------------


def test_a_retried_task_sends_once(send, start, buyer, seller, listing, mailoutbox, set_mode):
    set_mode(Mode.EVERY)
    posted = send(start, buyer, seller, listing=listing)
    tasks.notify_recipients.call(posted.message.pk)
    tasks.notify_recipients.call(posted.message.pk)
    mailer.send_pending()
    assert len(mailoutbox) == 1
    row = OutboxEmail.objects.get()
    assert row.sent_at is not None and row.attempts == 1


# -- content --------------------------------------------------------------------------------


def test_email_names_sender_and_listing_with_a_preview_and_links(
    send, start, buyer, seller, listing, mailoutbox, site
):
    site.hostname, site.port = "market.example", 443
    site.save()
    send(start, buyer, seller, listing=listing, body="Is the bike still available?")
    email = mailoutbox[0]
    assert email.to == ["seller@example.com"]
    assert email.subject == "Buyer sent you a message about Road bike"
    html = html_of(email)
    for part in (email.body, html):
        assert "Buyer" in part and "Road bike" in part
        assert "Is the bike still available?" in part
    thread = listing_thread(listing)
    thread_url = f"https://market.example{thread.get_absolute_url()}"
    assert thread_url in email.body and f'href="{thread_url}"' in html
    mute_url = email.extra_headers["List-Unsubscribe"].strip("<>")
    assert mute_url in email.body and mute_url in html
    for link in links(email.body) + links(html):
        assert link.startswith("https://market.example/"), link


def listing_thread(listing):
    from wagtail_messenger.models import Thread

    return Thread.objects.get(listing=listing)


def test_previews_off_keep_the_message_out_of_the_mailbox(
    send, start, buyer, seller, listing, mailoutbox, set_mode
):
    set_mode(email_previews=False)
    send(start, buyer, seller, listing=listing, body="My phone number is 0612345678")
    email = mailoutbox[0]
    assert "0612345678" not in email.body
    assert "0612345678" not in html_of(email)
    assert "Buyer" in email.body, "the sender is still named"


def test_long_messages_are_cut_to_a_short_preview(
    send, start, buyer, seller, listing, mailoutbox, settings
):
    settings.WAGTAILMESSENGER_PREVIEW_LENGTH = 40
    send(start, buyer, seller, listing=listing, body="word " * 200 + "ENDMARK")
    assert "ENDMARK" not in mailoutbox[0].body
    assert "word word" in mailoutbox[0].body


def test_guest_gets_a_fresh_private_link_to_the_thread(
    send, start, actor, seller, listing, mailoutbox
):
    guest = Party.guest("Gina", "gina@example.com")
    posted = send(start, guest, seller, listing=listing)
    mailoutbox.clear()
    reply(send, actor, seller, posted.thread, body="Yes, come by tomorrow")
    (email,) = to(mailoutbox, "gina@example.com")
    link = links(email.body.split("Read and reply:")[1])[0]
    match = resolve(urlsplit(link).path)
    assert match.url_name == "guest_link"
    assert f'href="{link}"' in html_of(email)
    token = guests.redeem(match.kwargs.get("token") or match.args[0])
    assert (token.email, token.thread_id) == ("gina@example.com", posted.thread.pk)


def test_headers_offer_one_click_unsubscribe(send, start, buyer, seller, listing, mailoutbox):
    send(start, buyer, seller, listing=listing)
    message = mailoutbox[0].message()
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = message["List-Unsubscribe"]
    assert url.startswith("<http://") and url.endswith(">")
    assert resolve(urlsplit(url.strip("<>")).path).url_name == "mute"


def test_header_injection_in_names_and_subjects_stays_on_one_line(send, start, seller, mailoutbox):
    guest = Party.guest("Eve\r\nBcc: victim@example.com", "eve@example.com")
    send(start, guest, seller, subject="Hi\r\nX-Injected: yes\nReply-To: evil@example.com")
    email = mailoutbox[0]
    assert email.recipients() == ["seller@example.com"]
    raw = email.message().as_string()
    headers = raw.split("\n\n", 1)[0]
    assert not re.search(r"^(Bcc|X-Injected|Reply-To):", headers, flags=re.MULTILINE | re.I)
    assert "\n" not in email.subject and "\r" not in email.subject
    assert "Eve Bcc: victim@example.com" in email.subject


def test_names_are_escaped_in_the_html_part(send, start, seller, mailoutbox):
    guest = Party.guest("<script>alert(1)</script>", "eve@example.com")
    send(start, guest, seller, body="<b>bold</b> & co")
    html = html_of(mailoutbox[0])
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt; &amp; co" in html
    assert "<b>bold</b> & co" in mailoutbox[0].body, "the plain text part is not HTML-escaped"


# -- the mute link --------------------------------------------------------------------------


@pytest.fixture
def mute_url(conversation, seller):
    row = conversation.participants.get(user=seller)
    return f"/messages/mute/{notifications.mute_token(row)}/", row


def test_mute_link_get_only_asks_for_confirmation(client, mute_url):
    url, row = mute_url
    response = client.get(url)
    assert response.status_code == 200
    assert b"Stop emails" in response.content and b'method="post"' in response.content
    assert response["Referrer-Policy"] == "no-referrer"
    row.refresh_from_db()
    assert not row.muted, "mail scanners follow links: GET changes nothing"


def test_mute_link_post_mutes_that_thread_only(client, mute_url, start, buyer, seller):
    url, row = mute_url
    other = start(buyer, seller, subject="Another question").thread
    response = client.post(url)
    assert response.status_code == 200
    assert b"no more emails" in response.content
    row.refresh_from_db()
    assert row.muted
    assert not other.participants.get(user=seller).muted


def test_one_click_unsubscribe_works_without_csrf_token(mute_url):
    from django.test import Client

    url, row = mute_url
    mail_client = Client(enforce_csrf_checks=True)
    response = mail_client.post(
        url, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    row.refresh_from_db()
    assert row.muted


@pytest.mark.parametrize("token", ["nonsense", "123", "MQ:forged:signature"])
def test_forged_mute_tokens_change_nothing(client, conversation, token):
    response = client.post(f"/messages/mute/{token}/")
    assert response.status_code == 404
    assert not Participant.objects.filter(muted=True).exists()


def test_token_for_one_participant_cannot_be_edited_into_another(client, mute_url):
    url, row = mute_url
    token = url.split("/")[-2]
    value, rest = token.split(":", 1)
    other_value = "Mg" if value != "Mg" else "Mw"  # base64 of "2" / "3"
    response = client.post(f"/messages/mute/{other_value}:{rest}/")
    assert response.status_code == 404
    assert not Participant.objects.filter(muted=True).exists()


def test_muting_from_an_email_stops_the_next_emails(
    client, send, conversation, actor, buyer, mailoutbox, set_mode
):
    set_mode(Mode.EVERY)
    reply(send, actor, buyer, conversation, body="First")
    mute_link = mailoutbox[0].extra_headers["List-Unsubscribe"].strip("<>")
    client.post(urlsplit(mute_link).path)
    reply(send, actor, buyer, conversation, body="Second")
    assert len(mailoutbox) == 1


# -- moderators -----------------------------------------------------------------------------


def test_moderators_who_opted_in_hear_about_held_messages(
    send, conversation, actor, buyer, moderator, make_user, mailoutbox
):
    ContactPreference.objects.create(user=moderator, moderation_alerts=True)
    other_moderator = make_user("othermod")
    other_moderator.groups.add(Group.objects.get(name="Moderators"))
    curious = make_user("curious")  # asked for alerts but is no moderator
    ContactPreference.objects.create(user=curious, moderation_alerts=True)
    Ban.objects.create(user=buyer)
    reply(send, actor, buyer, conversation, body="Cheap watches here")
    assert [m.to for m in mailoutbox] == [["moderator@example.com"]]
    email = mailoutbox[0]
    assert "held as spam" in email.subject
    assert "Cheap watches here" in email.body
    assert conversation.get_absolute_url() in email.body


def test_moderators_hear_about_reports(send, conversation, actor, seller, moderator, mailoutbox):
    ContactPreference.objects.create(user=moderator, moderation_alerts=True)
    message = conversation.messages.get()
    send(participation.report_message, actor(seller), message.pk, reason="Rude\r\nBcc: x@y.z")
    assert [m.to for m in mailoutbox] == [["moderator@example.com"]]
    assert "reported" in mailoutbox[0].subject
    assert "Rude Bcc: x@y.z" in mailoutbox[0].body


def account_form_data(response):
    """The admin account page's fields with their current values (to post it back)."""
    data = {}
    html = response.content.decode()
    for tag in re.findall(r"<(?:input|select|textarea)[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        if not name or name.group(1) in {"csrfmiddlewaretoken"}:
            continue
        if 'type="checkbox"' in tag and "checked" not in tag:
            continue
        if 'type="file"' in tag or "password" in name.group(1):
            continue
        value = re.search(r'value="([^"]*)"', tag)
        data[name.group(1)] = value.group(1) if value else ""
    for name, value in re.findall(
        r'<select[^>]*name="([^"]+)"[^>]*>.*?<option value="([^"]*)"[^>]*selected', html, re.S
    ):
        data[name] = value
    return data


def test_moderators_opt_in_to_alerts_from_their_admin_account(client, moderator, make_user):
    client.force_login(moderator)
    url = reverse("wagtailadmin_account")
    page = client.get(url)
    field = "wagtail_messenger_alerts-moderation_alerts"
    assert field.encode() in page.content
    data = account_form_data(page)
    assert field not in data, "off until the moderator opts in"
    data["name_email-last_name"] = "Smith"  # required by Wagtail's own panel
    response = client.post(url, {**data, field: "on"})
    assert response.status_code == 302
    assert ContactPreference.objects.get(user=moderator).moderation_alerts
    assert mailer.moderators_to_alert() == [moderator]

    editor = make_user("editor")
    editor.user_permissions.add(Permission.objects.get(codename="access_admin"))
    client.force_login(editor)
    assert field.encode() not in client.get(url).content
