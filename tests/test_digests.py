"""How often people are emailed: their own choice on the preferences page (every message,
one per round, a daily summary, never) over the site's mode, and the daily summary
itself: once a day per person after DIGEST_HOUR, what it lists, retries without doubles.

The jobs take ``now``; messages are written at the real time, so "tomorrow at 09:00" is
after all of them."""

import io
import re
from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from wagtail_messenger.models import ContactPreference, MessengerSettings, OutboxEmail
from wagtail_messenger.services import (
    conversations,
    digests,
    mailer,
    maintenance,
    outbox,
    participation,
    safety,
)
from wagtail_messenger.services.parties import Party

from .smtp_faults import mail_server  # noqa: F401 F811  (a fixture)

pytestmark = pytest.mark.django_db

Mode = MessengerSettings.NotificationMode
Frequency = ContactPreference.Frequency
PREFERENCES = reverse("wagtail_messenger:preferences")


def at(hour, days=1):
    """``days`` from today at ``hour``:00 in the site's time zone."""
    local = timezone.localtime(timezone.now()) + timedelta(days=days)
    return local.replace(hour=hour, minute=0, second=0, microsecond=0)


def to(outbox_, address):
    return [m for m in outbox_ if address in m.recipients()]


def html_of(email):
    return next(content for content, kind in email.alternatives if kind == "text/html")


def reply(send, actor, user, thread, body):
    return send(conversations.post_message, actor=actor(user), thread=thread, body=body)


@pytest.fixture
def daily_seller(seller):
    safety.set_preferences(seller, email_frequency=Frequency.DAILY)
    return seller


@pytest.fixture
def two_threads(send, start, buyer, make_user, daily_seller, make_listing):
    """A buyer and a second buyer each wrote to the seller about a listing."""
    bike = send(start, buyer, daily_seller, listing=make_listing("Red bike")).thread
    other = make_user("zoe", first_name="Zoe")
    lamp = send(start, other, daily_seller, listing=make_listing("Desk lamp")).thread
    return bike, lamp


def summaries(mailoutbox, address="seller@example.com"):
    return [m for m in to(mailoutbox, address) if "daily summary" in m.subject]


# -- the summary ------------------------------------------------------------------------------


def test_a_daily_summary_replaces_the_emails_and_comes_once_a_day(
    send, actor, buyer, daily_seller, two_threads, mailoutbox
):
    bike, lamp = two_threads
    reply(send, actor, buyer, bike, "Is it still available?")
    assert to(mailoutbox, "seller@example.com") == [], "no email per message"

    assert send(digests.send_digests, now=at(7)).emails_queued == 0, "not before 08:00"
    assert summaries(mailoutbox) == []

    assert send(digests.send_digests, now=at(9)).emails_queued == 1
    [summary] = summaries(mailoutbox)
    assert summary.subject == "Your daily summary: 2 conversations with new messages"
    assert "Red bike" in summary.body and "Desk lamp" in summary.body
    assert "2 unread messages" in summary.body and "1 unread message\n" in summary.body
    assert "Is it still available?" in summary.body, "the latest message's preview"
    assert f"/messages/{bike.pk}/" in summary.body and f"/messages/{lamp.pk}/" in summary.body
    assert "Red bike" in html_of(summary) and summary.extra_headers["List-Unsubscribe"]
    assert reverse("wagtail_messenger:preferences") in summary.extra_headers["List-Unsubscribe"]

    # Again the same day, by the job, the sweeper or the maintenance run: nothing more.
    send(digests.send_digests, now=at(9).replace(minute=30))
    send(digests.send_digests, now=at(23))
    send(mailer.send_pending)
    assert len(summaries(mailoutbox)) == 1
    key = f"digest:{daily_seller.pk}:{timezone.localdate(at(9)).isoformat()}"
    assert OutboxEmail.objects.get(kind=OutboxEmail.Kind.DIGEST).dedup_key == key

    # The next day: nothing new, no summary; then a message, and the day after one
    # summary with that conversation only.
    assert send(digests.send_digests, now=at(9, days=2)).emails_queued == 0
    # (As if the day-2 run had been just before this message.)
    ContactPreference.objects.filter(user=daily_seller).update(last_digest_at=timezone.now())
    reply(send, actor, buyer, bike, "Hello?")
    assert send(digests.send_digests, now=at(9, days=3)).emails_queued == 1
    latest = summaries(mailoutbox)[-1]
    assert latest.subject == "Your daily summary: 1 conversation with new messages"
    assert "Red bike" in latest.body and "Desk lamp" not in latest.body
    assert len(summaries(mailoutbox)) == 2


def test_read_muted_and_trashed_conversations_stay_out(
    send, actor, daily_seller, two_threads, mailoutbox
):
    bike, lamp = two_threads
    participation.mark_read(actor(daily_seller), bike.pk)
    participation.set_muted(actor(daily_seller), lamp.pk)
    assert send(digests.send_digests, now=at(9)).emails_queued == 0
    assert summaries(mailoutbox) == []

    participation.set_muted(actor(daily_seller), lamp.pk, muted=False)
    participation.trash(actor(daily_seller), lamp.pk)
    ContactPreference.objects.filter(user=daily_seller).update(last_digest_at=None)
    assert send(digests.send_digests, now=at(9)).emails_queued == 0


def test_what_was_read_before_the_summary_went_is_not_sent(
    send, actor, daily_seller, two_threads, mailoutbox
):
    bike, lamp = two_threads
    digests.send_digests(now=at(9))  # queued; its send_email task waits for the commit
    [row] = OutboxEmail.objects.filter(kind=OutboxEmail.Kind.DIGEST)
    participation.mark_read(actor(daily_seller), bike.pk)
    participation.mark_read(actor(daily_seller), lamp.pk)
    send(mailer.send_pending)
    row.refresh_from_db()
    assert row.state == OutboxEmail.State.DROPPED
    assert summaries(mailoutbox) == []


def test_a_refused_summary_is_retried_and_sent_once(
    send,
    daily_seller,
    two_threads,
    mail_server,  # noqa: F811
):
    mail_server.start()
    mail_server.handler.fail_next(1)  # the mail server answers 451 "try again later"
    send(digests.send_digests, now=at(9))
    row = OutboxEmail.objects.get(kind=OutboxEmail.Kind.DIGEST)
    assert (row.state, row.attempts) == (OutboxEmail.State.PENDING, 1)

    OutboxEmail.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now())
    send(mailer.send_pending)
    send(mailer.send_pending)
    send(digests.send_digests, now=at(10))
    row.refresh_from_db()
    assert row.state == OutboxEmail.State.SENT
    got = [m for rcpt, m in mail_server.handler.parsed() if rcpt == "seller@example.com"]
    assert [m["Subject"] for m in got] == ["Your daily summary: 2 conversations with new messages"]
    assert got[0]["Message-ID"] == row.message_id


def test_many_conversations_are_cut_with_a_link_to_the_inbox(
    send, start, buyer, daily_seller, make_listing, mailoutbox, settings
):
    settings.WAGTAILMESSENGER_DIGEST_MAX_THREADS = 2
    for name in ("Bike", "Lamp", "Sofa", "Desk"):
        send(start, buyer, daily_seller, listing=make_listing(name))
    send(digests.send_digests, now=at(9))
    [summary] = summaries(mailoutbox)
    assert "4 conversations" in summary.subject
    assert "And 2 more conversations:" in summary.body
    assert reverse("wagtail_messenger:inbox") in summary.body


def test_team_members_who_take_the_summary_find_the_team_in_it(
    send, start, buyer, make_user, mailoutbox
):
    team = Group.objects.create(name="Sales")
    anna, ben = make_user("anna"), make_user("ben")
    for member in (anna, ben):
        member.groups.add(team)
    safety.set_preferences(ben, email_frequency=Frequency.DAILY)
    send(start, buyer, Party.team(team), subject="Bulk order")
    assert [sorted(m.recipients()) for m in mailoutbox] == [["anna@example.com"]]

    send(digests.send_digests, now=at(9))
    [summary] = summaries(mailoutbox, "ben@example.com")
    assert "Bulk order" in summary.body and "(for Sales)" in summary.body


def test_a_site_that_sends_no_notifications_sends_no_summary(
    send, set_mode, daily_seller, two_threads, mailoutbox
):
    set_mode(Mode.NEVER)
    assert send(digests.send_digests, now=at(9)).emails_queued == 0
    assert summaries(mailoutbox) == []


def test_previews_off_keep_the_text_out_of_the_summary(
    send, set_mode, actor, buyer, daily_seller, two_threads, mailoutbox
):
    set_mode(Mode.ROUND, email_previews=False)
    reply(send, actor, buyer, two_threads[0], "My phone number is secret")
    send(digests.send_digests, now=at(9))
    [summary] = summaries(mailoutbox)
    assert "secret" not in summary.body and "Last from" in summary.body


def test_the_command_and_the_maintenance_run_queue_them(daily_seller, two_threads):
    out = io.StringIO()
    with mock.patch("django.utils.timezone.now", return_value=at(9)):
        call_command("messenger_send_digests", "--dry-run", stdout=out)
    assert "Total: 1 daily summary would be queued." in out.getvalue()
    assert not OutboxEmail.objects.filter(kind=OutboxEmail.Kind.DIGEST).exists()

    results = maintenance.run_all(now=at(9))
    assert results["send_digests"].emails_queued == 1
    assert OutboxEmail.objects.filter(kind=OutboxEmail.Kind.DIGEST).count() == 1


# -- everybody's own pace ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("site_mode", "choice", "emails"),
    [
        (Mode.ROUND, Frequency.EVERY, 3),  # their choice over the site's
        (Mode.EVERY, Frequency.ROUND, 1),
        (Mode.EVERY, Frequency.NEVER, 0),
        (Mode.EVERY, Frequency.DAILY, 0),
        (Mode.EVERY, "", 3),  # no choice: the site's mode
        (Mode.ROUND, "", 1),
        (Mode.NEVER, Frequency.EVERY, 0),  # the site's "Never" is everyone's
    ],
)
def test_each_person_chooses_how_often_they_are_emailed(
    send, start, actor, buyer, seller, listing, mailoutbox, set_mode, site_mode, choice, emails
):
    set_mode(site_mode)
    safety.set_preferences(seller, email_frequency=choice)
    thread = send(start, buyer, seller, listing=listing).thread
    reply(send, actor, buyer, thread, "Second")
    reply(send, actor, buyer, thread, "Third")
    assert len(to(mailoutbox, "seller@example.com")) == emails


def test_a_choice_made_after_the_email_was_owed_is_kept(
    send, start, actor, buyer, seller, listing, mailoutbox, set_mode
):
    set_mode(Mode.EVERY)
    thread = send(start, buyer, seller, listing=listing).thread
    mailoutbox.clear()
    posted = conversations.post_message(actor=actor(buyer), thread=thread, body="Not yet sent")
    message = posted.message
    mailer._claim(message.pk)  # owed: an outbox row waits
    safety.set_preferences(seller, email_frequency=Frequency.DAILY)
    send(mailer.send_pending)
    assert to(mailoutbox, "seller@example.com") == []
    row = OutboxEmail.objects.get(dedup_key__startswith=f"notification:{message.pk}:")
    assert row.state == OutboxEmail.State.DROPPED


# -- the preferences page ------------------------------------------------------------------------


def test_the_preferences_page_offers_the_four_choices(client, seller, set_mode):
    set_mode(Mode.ROUND)
    client.force_login(seller)
    response = client.get(PREFERENCES)
    html = response.content.decode()
    assert response.context["form"].initial["email_frequency"] == Mode.ROUND, "the site's"
    for label in ("An email for every new message", "A daily summary", "Never"):
        assert label in html
    assert "<legend>Email me about new messages</legend>" in html
    assert 'type="radio" name="email_frequency" value="round"' in html and "checked" in html

    # Saving the site's pace keeps "no choice": it follows the site if that changes.
    client.post(PREFERENCES, {"allow_contact": "on", "email_frequency": "round"})
    assert ContactPreference.objects.get(user=seller).email_frequency == ""

    client.post(PREFERENCES, {"allow_contact": "on", "email_frequency": "daily"})
    saved = ContactPreference.objects.get(user=seller)
    assert saved.email_frequency == Frequency.DAILY
    assert saved.last_digest_at is not None, "the first summary covers what comes from now"


def test_a_wrong_choice_is_refused_with_a_message(client, seller):
    client.force_login(seller)
    response = client.post(PREFERENCES, {"allow_contact": "on", "email_frequency": "hourly"})
    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    assert not ContactPreference.objects.filter(user=seller).exists()


def test_on_a_site_without_notifications_the_choice_is_shown_off(client, seller, set_mode):
    set_mode(Mode.NEVER)
    client.force_login(seller)
    html = client.get(PREFERENCES).content.decode()
    assert "This site sends no email notifications." in html
    assert re.search(r'<input type="radio" name="email_frequency"[^>]* disabled', html)
    client.post(PREFERENCES, {"email_frequency": "every"})
    assert ContactPreference.objects.get(user=seller).email_frequency == ""


def test_only_known_frequencies_are_saved(seller):
    with pytest.raises(ValueError, match="Unknown email frequency"):
        safety.set_preferences(
            type("U", (), {"is_authenticated": True, "pk": 1})(), email_frequency="x"
        )


def test_sending_is_idempotent_per_day_whatever_the_number_of_runs(daily_seller, two_threads):
    for minute in (0, 1, 2):
        digests.send_digests(now=at(9).replace(minute=minute))
    ContactPreference.objects.filter(user=daily_seller).update(last_digest_at=None)
    digests.send_digests(now=at(10))  # even with the mark lost, the day's key stands
    assert OutboxEmail.objects.filter(kind=OutboxEmail.Kind.DIGEST).count() == 1
    assert outbox.due().filter(kind=OutboxEmail.Kind.DIGEST).count() == 1


@pytest.mark.parametrize(
    ("hour", "limit", "ids"),
    [
        (8, 20, []),
        (0, 1, []),
        (24, 20, ["wagtail_messenger.E042"]),
        ("8", 20, ["wagtail_messenger.E042"]),
        (8, 0, ["wagtail_messenger.E043"]),
    ],
)
def test_the_checks_name_a_wrong_hour_or_length(settings, hour, limit, ids):
    from wagtail_messenger.checks import check_digest_settings

    settings.WAGTAILMESSENGER_DIGEST_HOUR = hour
    settings.WAGTAILMESSENGER_DIGEST_MAX_THREADS = limit
    assert [m.id for m in check_digest_settings(None)] == ids


def test_a_sweep_with_nobody_due_costs_one_query(daily_seller, django_assert_num_queries):
    digests.send_digests(now=at(9))  # today's done
    with django_assert_num_queries(1):
        assert digests.send_digests(now=at(10)).emails_queued == 0
