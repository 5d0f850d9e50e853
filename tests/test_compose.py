"""Compose: users write directly, guests give a name and email; bad input is shown in
the page with the visitor's text kept; a double submit posts once."""

import re
from pathlib import Path

import pytest
from django.core import mail
from django.core.cache import caches

from wagtail_messenger.forms import new_key
from wagtail_messenger.models import Message, MessengerSettings, Participant, Thread
from wagtail_messenger.services import safety


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    """Rate-limit counters live in the cache, which outlives a test's database."""
    caches["default"].clear()


def url(page):
    return f"/messages/new/{page.pk}/"


@pytest.mark.django_db
class TestUsers:
    def test_logged_in_user_starts_a_thread_and_lands_on_it(self, client, listing, buyer, seller):
        client.force_login(buyer)
        form = client.get(url(listing)).content.decode()
        assert 'name="email"' not in form
        response = client.post(url(listing), {"body": "Still for sale?", "key": new_key()})
        thread = Thread.objects.get()
        assert response.status_code == 302
        assert response["Location"] == thread.get_absolute_url()
        assert thread.listing_id == listing.pk
        assert set(thread.participants.values_list("user_id", flat=True)) == {buyer.pk, seller.pk}
        assert Participant.objects.get(user=seller).unread_count == 1

    def test_double_submit_posts_once(self, client, listing, buyer):
        client.force_login(buyer)
        data = {"body": "Clicked twice", "key": new_key()}
        first = client.post(url(listing), data)
        second = client.post(url(listing), data)
        assert Message.objects.count() == 1
        assert first["Location"] == second["Location"]

    @pytest.mark.parametrize(
        ("body", "problem"),
        [("   ", "Write a message before sending."), ("x" * 5001, "at most 5000 characters")],
    )
    def test_bad_bodies_are_explained_and_kept(self, client, listing, buyer, body, problem):
        client.force_login(buyer)
        response = client.post(url(listing), {"body": body, "key": new_key()})
        html = response.content.decode()
        assert response.status_code == 200
        assert problem in html
        assert body.strip()[:50] in html
        assert Message.objects.count() == 0

    def test_opted_out_seller_refuses_with_a_clear_message(self, client, listing, buyer, seller):
        client.force_login(buyer)
        safety.set_allow_contact(seller, False)
        response = client.post(url(listing), {"body": "Hello there", "key": new_key()})
        assert response.status_code == 403
        assert "does not accept messages" in response.content.decode()
        assert Message.objects.count() == 0

    def test_blocked_recipient_keeps_the_text(self, client, listing, buyer, seller, start):
        from wagtail_messenger.models import Block

        Block.objects.create(blocker=buyer, blocked_user=seller)
        client.force_login(buyer)
        response = client.post(url(listing), {"body": "My careful words", "key": new_key()})
        html = response.content.decode()
        assert "You blocked this person" in html
        assert "My careful words" in html

    def test_seller_cannot_message_their_own_listing(self, client, listing, seller):
        client.force_login(seller)
        response = client.get(url(listing))
        assert response.status_code == 403
        assert "your own listing" in response.content.decode()

    def test_a_listing_already_discussed_opens_that_conversation(
        self, client, listing, buyer, seller, start
    ):
        thread = start(buyer, seller, listing=listing).thread
        client.force_login(buyer)
        response = client.get(url(listing), follow=True)
        assert response.redirect_chain == [(thread.get_absolute_url(), 302)]
        html = response.content.decode()
        assert "You already have a conversation about this listing" in html
        assert "Hello, is it still available?" in html

    def test_the_sent_notice_is_styled_by_the_plugins_own_stylesheet(
        self, client, listing, buyer, settings
    ):
        """Where the theme does not show Django's messages itself (here the plugin's
        own layout, as without a base template), the plugin's pages show them."""
        from django.contrib.staticfiles import finders

        settings.WAGTAILMESSENGER_BASE_TEMPLATE = "no_such_base.html"
        client.force_login(buyer)
        data = {"body": "Still for sale?", "key": new_key()}
        html = client.post(url(listing), data, follow=True).content.decode()
        notice = re.search(r'<li class="([^"]+)">Your message was sent.</li>', html)
        assert notice and "wm-notice--success" in notice.group(1).split()
        sheet = re.search(r'href="([^"]*wagtail_messenger/messenger[^"]*\.css)"', html)
        assert sheet, "the page links the plugin's stylesheet"
        css = Path(finders.find("wagtail_messenger/messenger.css")).read_text()
        for level in ("success", "warning", "error"):
            assert f".wm-notice--{level}" in css

    def test_a_closed_conversation_leaves_the_form_blank(
        self, client, listing, buyer, seller, start
    ):
        thread = start(buyer, seller, listing=listing).thread
        Thread.objects.filter(pk=thread.pk).update(status=Thread.Status.CLOSED)
        client.force_login(buyer)
        response = client.get(url(listing))
        assert response.status_code == 200
        assert 'name="body"' in response.content.decode()

    def test_unknown_page_and_non_listing_are_404(self, client, listing_index, buyer):
        client.force_login(buyer)
        assert client.get("/messages/new/999999/").status_code == 404
        assert client.get(url(listing_index)).status_code == 404


@pytest.mark.django_db
class TestGuests:
    def test_guest_gives_name_and_email_and_gets_a_private_link(
        self, client, listing, django_capture_on_commit_callbacks
    ):
        form = client.get(url(listing)).content.decode()
        assert 'name="email"' in form and 'name="name"' in form
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                url(listing),
                {
                    "name": "Gail",
                    "email": "Gail@Example.com",
                    "body": "Is it red?",
                    "key": new_key(),
                },
            )
        assert response.status_code == 302
        assert response["Location"] == f"/messages/new/{listing.pk}/sent/"
        guest = Participant.objects.get(kind=Participant.Kind.GUEST)
        assert (guest.name, guest.email) == ("Gail", "gail@example.com")
        to_guest = [m for m in mail.outbox if m.to == ["gail@example.com"]]
        assert len(to_guest) == 1
        assert re.search(r"https?://[^/]+/messages/link/[\w-]{40,}/", to_guest[0].body)
        assert "Road bike" in to_guest[0].subject
        # Composing proves nothing: the session cannot read the thread yet.
        response = client.get(Thread.objects.get().get_absolute_url())
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]

    def test_a_proven_guest_is_taken_to_their_conversation(self, client, listing, seller, start):
        from wagtail_messenger.actors import GUEST_SESSION_KEY
        from wagtail_messenger.services.parties import Party

        thread = start(Party.guest("Gail", "gail@example.com"), seller, listing=listing).thread
        session = client.session
        session[GUEST_SESSION_KEY] = "gail@example.com"
        session.save()
        response = client.get(url(listing))
        assert response.status_code == 302
        assert response["Location"] == thread.get_absolute_url()
        # A visitor who only typed that address (no link opened) gets the blank form.
        client.logout()
        assert 'name="email"' in client.get(url(listing)).content.decode()

    def test_guest_must_give_name_and_valid_email(self, client, listing):
        response = client.post(
            url(listing), {"name": "", "email": "nope", "body": "Kept text", "key": new_key()}
        )
        html = response.content.decode()
        assert "Enter a valid email address." in html
        assert "Kept text" in html
        assert Message.objects.count() == 0

    def test_guests_sent_to_login_when_the_site_wants_accounts(self, client, site, listing):
        MessengerSettings.objects.update_or_create(site=site, defaults={"guests_may_write": False})
        response = client.get(url(listing))
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]

    def test_guest_rate_limit_shows_a_message_and_keeps_text(self, client, site, listing):
        MessengerSettings.objects.update_or_create(site=site, defaults={"guest_threads_per_day": 1})
        data = {"name": "Gail", "email": "gail@example.com", "body": "First"}
        first = client.post(url(listing), {**data, "key": new_key()})
        assert first.status_code == 302, first.content.decode()
        response = client.post(url(listing), {**data, "body": "Second try", "key": new_key()})
        html = response.content.decode()
        assert "Too many messages" in html
        assert "Second try" in html
        assert Message.objects.count() == 1
