"""Threads follow their listing's life: the snapshot kept up to date on publish, no email
linking to an unpublished or deleted page, and no new conversation about a sold listing."""

import io
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from wagtail import hooks as wagtail_hooks
from wagtail.test.utils.form_data import rich_text

from sandbox.marketplace.models import ListingPage
from wagtail_messenger import hooks
from wagtail_messenger.models import Message, MessengerSettings, Participant, Thread
from wagtail_messenger.services import conversations

from . import test_contact_forms
from .test_injection import buttons, compose_url

# The contact form fixtures, for the form under a sold listing.
conf, make_contact_page = test_contact_forms.conf, test_contact_forms.make_contact_page

pytestmark = pytest.mark.django_db


def email_to(mailoutbox, user):
    [email] = [m for m in mailoutbox if user.email in m.recipients()]
    return email.body, email.alternatives[0][0]


def seller_replies(send, actor, seller, thread):
    send(conversations.post_message, actor=actor(seller), thread=thread, body="Still here")


def test_emails_link_the_listing_while_it_is_online(
    send, start, buyer, seller, listing, mailoutbox
):
    send(start, buyer, seller, listing=listing)
    text, html = email_to(mailoutbox, seller)
    assert listing.url in text
    assert f'href="http://localhost{listing.url}"' in html or listing.url in html


@pytest.mark.parametrize("gone", ["unpublished", "deleted"])
def test_no_email_links_to_a_gone_listing(
    gone, send, start, actor, buyer, seller, listing, mailoutbox
):
    thread = send(start, buyer, seller, listing=listing).thread
    path = listing.url
    if gone == "unpublished":
        listing.unpublish()
    else:
        listing.delete()
    mailoutbox.clear()
    seller_replies(send, actor, seller, Thread.objects.get(pk=thread.pk))
    text, html = email_to(mailoutbox, buyer)
    assert "Road bike" in text and "Road bike" in html  # named from the snapshot
    assert path not in text
    assert path not in html


def test_thread_page_names_a_gone_listing_from_its_snapshot(client, start, buyer, seller, listing):
    thread = start(buyer, seller, listing=listing).thread
    listing.unpublish()
    client.force_login(buyer)
    page = client.get(thread.get_absolute_url()).content.decode()
    assert "Road bike" in page and "no longer available" in page
    assert f'href="{listing.url}"' not in page


def test_publishing_a_new_title_and_slug_updates_the_snapshot(
    send, client, start, actor, buyer, seller, listing, mailoutbox
):
    thread = start(buyer, seller, listing=listing).thread
    listing.title, listing.slug = "Road bike, new tyres", "road-bike-new-tyres"
    listing.save_revision().publish()
    listing.refresh_from_db()
    client.force_login(buyer)
    page = client.get(thread.get_absolute_url()).content.decode()
    assert "Road bike, new tyres" in page
    assert f'href="{listing.url}"' in page
    listing.delete()  # what the emails and pages show from now on is the fresh snapshot
    mailoutbox.clear()
    seller_replies(send, actor, seller, Thread.objects.get(pk=thread.pk))
    text, _ = email_to(mailoutbox, buyer)
    assert "Road bike, new tyres" in text
    page = client.get(thread.get_absolute_url()).content.decode()
    assert "Road bike, new tyres" in page and "no longer available" in page


class TestSoldListings:
    @pytest.fixture
    def state(self):
        answer = {"state": "sold"}
        with wagtail_hooks.register_temporarily(hooks.LISTING_STATE, lambda page: answer["state"]):
            yield answer

    def test_a_sold_listing_shows_no_button_and_refuses_new_threads(
        self, state, client, buyer, listing
    ):
        client.force_login(buyer)
        assert buttons(client.get(listing.url)) == []
        response = client.get(compose_url(listing))
        assert response.status_code == 403
        assert "This listing was sold" in response.content.decode()
        response = client.post(compose_url(listing), {"body": "Still for sale?", "key": "k1"})
        assert response.status_code == 403
        assert "This listing was sold" in response.content.decode()
        assert not Thread.objects.filter(listing=listing).exists()

    def test_a_reserved_listing_still_takes_messages(self, state, client, buyer, listing):
        state["state"] = "reserved"
        client.force_login(buyer)
        assert len(buttons(client.get(listing.url))) == 1
        assert client.get(compose_url(listing)).status_code == 200

    def test_the_page_method_convention(self, client, buyer, listing, monkeypatch):
        monkeypatch.setattr(
            type(listing), "messenger_listing_state", lambda page: "sold", raising=False
        )
        client.force_login(buyer)
        assert client.get(compose_url(listing)).status_code == 403
        assert buttons(client.get(listing.url)) == []


def test_a_contact_form_under_a_sold_listing_answers_clearly(
    client, conf, make_contact_page, listing, monkeypatch
):
    page = make_contact_page(parent=listing, to_address="", slug="ask")
    monkeypatch.setattr(
        type(listing), "messenger_listing_state", lambda page: "sold", raising=False
    )
    for response in (client.get(page.url), client.post(page.url, test_contact_forms.VISITOR)):
        assert response.status_code == 403
        assert "This listing was sold" in response.content.decode()
    assert not Thread.objects.exists()


@pytest.mark.parametrize("action", ["unpublish", "delete"])
def test_an_editor_taking_the_listing_down_in_the_admin(
    action, send, client, make_user, start, actor, buyer, seller, listing, mailoutbox
):
    thread = send(start, buyer, seller, listing=listing).thread
    path = listing.url
    client.force_login(make_user("editor", is_superuser=True, is_staff=True))
    response = client.post(reverse(f"wagtailadmin_pages:{action}", args=[listing.pk]))
    assert response.status_code == 302
    client.force_login(buyer)
    page = client.get(thread.get_absolute_url()).content.decode()
    assert "Road bike" in page and "no longer available" in page
    mailoutbox.clear()
    seller_replies(send, actor, seller, Thread.objects.get(pk=thread.pk))
    text, html = email_to(mailoutbox, buyer)
    assert "Road bike" in text and path not in text and path not in html


# -- listing notes: the conversation is told when the listing changes --------------------

SOLD_NOTE = "This listing was marked as sold."


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


@pytest.fixture
def editor(make_user):
    return make_user("editor", is_superuser=True, is_staff=True)


def publish_in_admin(client, editor, listing, **changes):
    """The editor saves and publishes the listing's edit form in Wagtail's admin."""
    listing.refresh_from_db()
    data = {
        "title": listing.title,
        "slug": listing.slug,
        "price": listing.price or "",
        "location": listing.location,
        "status": listing.status,
        "photo": listing.photo_id or "",
        "description": rich_text(""),
        "action-publish": "publish",
    }
    data.update(changes)
    client.force_login(editor)
    response = client.post(reverse("wagtailadmin_pages:edit", args=[listing.pk]), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    listing.refresh_from_db()
    return response


def thread_page(client, user, thread):
    client.force_login(user)
    response = client.get(thread.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


def notes_in(html):
    return re.findall(r'<p class="wm-listing-note" role="note">(.*?)<time', html, re.S)


def clean(fragment):
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())


class TestListingNotes:
    def test_marking_sold_in_the_admin_tells_each_open_thread_once(
        self,
        send,
        on_commit,
        client,
        editor,
        make_user,
        start,
        buyer,
        seller,
        listing,
        mailoutbox,
        moderator,
    ):
        first = send(start, buyer, seller, listing=listing).thread
        other_buyer = make_user("other_buyer")
        second = send(start, other_buyer, seller, listing=listing).thread
        closed = send(start, make_user("third_buyer"), seller, listing=listing).thread
        Thread.objects.filter(pk=closed.pk).update(status=Thread.Status.CLOSED)
        thread_page(client, buyer, first)  # the buyer has read everything
        mailoutbox.clear()

        with on_commit(execute=True):
            publish_in_admin(client, editor, listing, status="sold")

        for user, thread in ((buyer, first), (other_buyer, second)):
            html = thread_page(client, user, thread)
            assert [clean(n) for n in notes_in(html)] == ["Listing update: " + SOLD_NOTE]
        assert notes_in(thread_page(client, seller, first)) != []  # both sides see it
        assert notes_in(thread_page(client, moderator, closed)) == []  # closed: left alone
        # Emailed once, in the normal round, to the buyers only (the seller did it).
        told = [m for m in mailoutbox if SOLD_NOTE in m.body]
        assert sorted(r for m in told for r in m.recipients()) == sorted(
            [buyer.email, other_buyer.email]
        )
        assert all("Update about Road bike" in m.subject for m in told)
        assert all(SOLD_NOTE in m.alternatives[0][0] for m in told)
        # Publishing again, still sold: nothing new.
        mailoutbox.clear()
        with on_commit(execute=True):
            publish_in_admin(client, editor, listing, location="Lyon")
        assert len(notes_in(thread_page(client, buyer, first))) == 1
        assert mailoutbox == []

    def test_a_note_is_never_unread_and_has_no_actions(
        self, send, client, editor, start, buyer, seller, listing
    ):
        thread = send(start, buyer, seller, listing=listing).thread
        rows = Participant.objects.filter(thread=thread).order_by("pk")
        before = list(rows.values_list("unread_count", "last_message_at", "folder"))
        publish_in_admin(client, editor, listing, status="reserved")
        # Nobody has more unread, nor a thread moved in their inbox.
        assert list(rows.values_list("unread_count", "last_message_at", "folder")) == before
        html = thread_page(client, buyer, thread)
        [note_html] = re.findall(r'<li class="wm-message wm-message--note".*?</li>', html, re.S)
        assert "This listing was marked as reserved." in note_html
        assert "Report" not in note_html and "Remove" not in note_html
        note = Message.objects.get(thread=thread, kind=Message.Kind.NOTE)
        # Neither side can report it or remove it, even by posting the forms.
        client.force_login(buyer)
        url = reverse("wagtail_messenger:report_message", args=[note.pk])
        response = client.post(url, {"reason": "x"}, HTTP_ACCEPT="application/json")
        assert response.status_code == 403
        assert "cannot be reported" in response.json()["message"]
        response = client.post(url, {"reason": "x"}, follow=True)  # the form, without JS
        assert "cannot be reported" in response.content.decode()
        client.force_login(seller)
        url = reverse("wagtail_messenger:remove_message", args=[note.pk])
        response = client.post(url, HTTP_ACCEPT="application/json")
        assert response.status_code == 403
        note.refresh_from_db()
        assert note.state == Message.State.VISIBLE
        assert not note.reports.exists()

    def test_the_live_page_receives_the_note(
        self, send, client, editor, start, buyer, seller, listing
    ):
        thread = send(start, buyer, seller, listing=listing).thread
        thread.refresh_from_db()
        cursor = thread.last_seq
        publish_in_admin(client, editor, listing, status="sold")
        client.force_login(buyer)
        poll = reverse("wagtail_messenger:poll", args=[thread.pk])
        answer = client.get(poll, {"after": cursor}).json()
        [note] = answer["messages"]
        assert SOLD_NOTE in note["html"] and answer["cursor"] == cursor + 1

    def test_offline_back_online_and_removed(
        self, send, client, editor, start, buyer, seller, listing, mailoutbox
    ):
        thread = send(start, buyer, seller, listing=listing).thread
        client.force_login(editor)
        client.post(reverse("wagtailadmin_pages:unpublish", args=[listing.pk]))
        assert [clean(n) for n in notes_in(thread_page(client, buyer, thread))] == [
            "Listing update: This listing is no longer online."
        ]
        publish_in_admin(client, editor, listing)
        publish_in_admin(client, editor, listing, status="sold")
        publish_in_admin(client, editor, listing, status="available")
        client.force_login(editor)
        client.post(reverse("wagtailadmin_pages:delete", args=[listing.pk]))
        assert not ListingPage.objects.filter(pk=listing.pk).exists()
        texts = [clean(n) for n in notes_in(thread_page(client, buyer, thread))]
        assert texts == [
            "Listing update: This listing is no longer online.",
            "Listing update: This listing is back online.",
            "Listing update: " + SOLD_NOTE,
            "Listing update: This listing is available again.",
            "Listing update: This listing was removed from the site.",
        ]

    def test_a_note_waits_for_the_round_like_any_message(
        self, send, on_commit, client, editor, start, actor, buyer, seller, listing, mailoutbox
    ):
        thread = send(start, buyer, seller, listing=listing).thread
        seller_replies(send, actor, seller, thread)
        assert [m.recipients() for m in mailoutbox if "Still here" in m.body] == [[buyer.email]]
        mailoutbox.clear()
        with on_commit(execute=True):
            publish_in_admin(client, editor, listing, status="sold")
        assert mailoutbox == []  # the buyer has not read the reply they were told about
        thread_page(client, buyer, thread)
        client.post(
            reverse("wagtail_messenger:mark_read", args=[thread.pk]),
            {"seen": Thread.objects.get(pk=thread.pk).last_seq},
        )
        with on_commit(execute=True):
            publish_in_admin(client, editor, listing, status="available")
        assert [m.recipients() for m in mailoutbox] == [[buyer.email]]
        assert "This listing is available again." in mailoutbox[0].body


# -- closing the conversations of an ended listing ----------------------------------------


class TestClosingEndedListings:
    @pytest.fixture
    def closes_after_3_days(self, site):
        conf = MessengerSettings.for_site(site)
        conf.close_ended_listings_days = 3
        conf.save()
        return conf

    def run_job_days_later(self, days):
        out = io.StringIO()
        later = timezone.now() + timedelta(days=days)
        with time_machine(later):
            call_command("messenger_close_ended_listings", stdout=out)
        return out.getvalue()

    def test_editors_find_the_setting_in_the_maintenance_tab(self, client, editor, site):
        client.force_login(editor)
        url = reverse(
            "wagtailsettings:edit", args=["wagtail_messenger", "messengersettings", site.pk]
        )
        html = client.get(url).content.decode()
        assert "close conversations of ended listings after (days)" in html.lower()

    def test_a_sold_listing_closes_its_threads_after_the_days_set(
        self, closes_after_3_days, send, client, editor, start, buyer, seller, listing
    ):
        thread = send(start, buyer, seller, listing=listing).thread
        publish_in_admin(client, editor, listing, status="sold")
        assert "0 thread(s) were closed" in self.run_job_days_later(2)
        assert Thread.objects.get(pk=thread.pk).status == Thread.Status.OPEN
        assert "1 thread(s) were closed" in self.run_job_days_later(4)

        html = thread_page(client, buyer, thread)
        assert "This conversation is closed: the listing has ended." in html
        index_url = listing.get_parent().url
        assert re.search(
            rf'<a href="{re.escape(index_url)}">Contact the seller about another listing</a>', html
        )
        assert 'name="body"' not in html  # no reply form
        # A reply posted anyway is refused with the reason, and saves nothing.
        count = Message.objects.count()
        response = client.post(
            thread.get_absolute_url(), {"body": "Still there?"}, HTTP_ACCEPT="application/json"
        )
        assert response.status_code == 403
        assert Message.objects.count() == count

    def test_the_listing_coming_back_opens_them_again(
        self, closes_after_3_days, send, client, editor, start, actor, buyer, seller, listing
    ):
        thread = send(start, buyer, seller, listing=listing).thread
        client.force_login(editor)
        client.post(reverse("wagtailadmin_pages:unpublish", args=[listing.pk]))
        self.run_job_days_later(4)
        assert Thread.objects.get(pk=thread.pk).status == Thread.Status.ENDED
        publish_in_admin(client, editor, listing)
        thread.refresh_from_db()
        assert thread.status == Thread.Status.OPEN and thread.listing_ended_at is None
        html = thread_page(client, buyer, thread)
        assert "This listing is back online." in html and 'name="body"' in html
        response = client.post(thread.get_absolute_url(), {"body": "Great, still keen"})
        assert response.status_code == 302
        assert Message.objects.filter(thread=thread, body="Great, still keen").exists()

    def test_off_by_default_and_dry_run_changes_nothing(
        self, send, client, editor, start, buyer, seller, listing, site
    ):
        thread = send(start, buyer, seller, listing=listing).thread
        publish_in_admin(client, editor, listing, status="sold")
        assert "off" in self.run_job_days_later(400)
        conf = MessengerSettings.for_site(site)
        conf.close_ended_listings_days = 3
        conf.save()
        out = io.StringIO()
        with time_machine(timezone.now() + timedelta(days=4)):
            call_command("messenger_close_ended_listings", "--dry-run", stdout=out)
        assert "would close thread #" in out.getvalue()
        assert Thread.objects.get(pk=thread.pk).status == Thread.Status.OPEN


def time_machine(moment):
    """Run the block as if it were ``moment`` (``timezone.now`` only: what the job reads)."""
    from unittest import mock

    return mock.patch("django.utils.timezone.now", return_value=moment)


# -- the snapshot keeps the listing's first image -------------------------------------------


@pytest.fixture
def photo(site):
    from wagtail.images import get_image_model
    from wagtail.images.tests.utils import get_test_image_file

    return get_image_model().objects.create(title="Bike", file=get_test_image_file())


def test_the_first_image_stays_on_the_thread_and_in_emails_once_the_page_is_gone(
    send, client, editor, photo, start, actor, buyer, seller, listing, mailoutbox
):
    thread = send(start, buyer, seller, listing=listing).thread
    publish_in_admin(client, editor, listing, photo=photo.pk)
    assert Thread.objects.get(pk=thread.pk).listing_image == photo
    client.force_login(editor)
    client.post(reverse("wagtailadmin_pages:delete", args=[listing.pk]))
    html = thread_page(client, buyer, thread)
    [thumb] = re.findall(r'<img[^>]*class="wm-listing-thumb"[^>]*>', html)
    assert 'alt=""' in thumb and "/images/" in thumb
    assert "Road bike" in html and "no longer available" in html
    mailoutbox.clear()
    seller_replies(send, actor, seller, Thread.objects.get(pk=thread.pk))
    _text, email_html = email_to(mailoutbox, buyer)
    assert re.search(r'<img src="http://localhost/[^"]*images/[^"]+"', email_html)


def test_a_conversation_started_about_a_reserved_listing_is_not_told_it_is_reserved(
    send, client, editor, photo, start, buyer, seller, listing
):
    publish_in_admin(client, editor, listing, status="reserved", photo=photo.pk)
    thread = send(start, buyer, seller, listing=listing).thread
    assert thread.listing_image == photo  # the snapshot has the image from the start
    publish_in_admin(client, editor, listing, location="Nantes")
    assert notes_in(thread_page(client, buyer, thread)) == []
    publish_in_admin(client, editor, listing, status="available")
    assert [clean(n) for n in notes_in(thread_page(client, buyer, thread))] == [
        "Listing update: This listing is available again."
    ]


def test_moderators_see_notes_as_listing_updates_and_cannot_hide_them(
    send, client, editor, start, buyer, seller, listing, moderator
):
    thread = send(start, buyer, seller, listing=listing).thread
    publish_in_admin(client, editor, listing, status="sold")
    note = Message.objects.get(thread=thread, kind=Message.Kind.NOTE)
    client.force_login(moderator)
    url = reverse("messenger_threads:inspect", args=[thread.pk])
    html = client.get(url).content.decode()
    [item] = re.findall(rf'<li id="message-{note.pk}" data-message-kind="note".*?</li>', html, re.S)
    assert "Listing update" in item and SOLD_NOTE in item
    assert 'value="hide"' not in item  # no moderation buttons on it
    action = reverse("messenger_threads:action", args=[thread.pk])
    response = client.post(action, {"action": "hide", "message": note.pk}, follow=True)
    assert "cannot be hidden" in response.content.decode()
    note.refresh_from_db()
    assert note.state == Message.State.VISIBLE


class TestListingCard:
    """The listing card: the page's ``messenger_summary()`` (the sandbox's: price and
    town) under the title, in the inbox row and the thread header, kept on publish and
    once the page is gone."""

    def test_the_summary_shows_in_the_inbox_and_the_thread(
        self, client, make_listing, buyer, seller, start
    ):
        page = make_listing(title="Road bike", location="Lyon")
        thread = start(buyer, seller, listing=page).thread
        client.force_login(buyer)
        inbox = client.get("/messages/").content.decode()
        assert '<span class="wm-row__summary">· €100 · Lyon</span>' in inbox
        html = client.get(thread.get_absolute_url()).content.decode()
        assert '<span class="wm-listing-summary">€100 · Lyon</span>' in html

    def test_a_new_price_published_reaches_the_card_and_outlives_the_page(
        self, client, make_listing, buyer, seller, start
    ):
        page = make_listing(title="Road bike", location="Lyon")
        thread = start(buyer, seller, listing=page).thread
        page.price = "80.00"
        page.save_revision().publish()
        thread.refresh_from_db()
        assert thread.listing_summary == "€80 · Lyon"
        page.delete()
        client.force_login(buyer)
        assert "€80 · Lyon" in client.get(thread.get_absolute_url()).content.decode()

    def test_a_failing_summary_method_shows_nothing_and_stops_nothing(
        self, make_listing, buyer, seller, start, monkeypatch, caplog
    ):
        def broken(self):
            raise RuntimeError("no price field")

        monkeypatch.setattr(ListingPage, "messenger_summary", broken)
        posted = start(buyer, seller, listing=make_listing())
        assert posted.thread.listing_summary == ""
        assert "messenger_summary() of page" in caplog.text
