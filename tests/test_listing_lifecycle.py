"""Threads follow their listing's life: the snapshot kept up to date on publish, no email
linking to an unpublished or deleted page, and no new conversation about a sold listing."""

import pytest
from django.urls import reverse
from wagtail import hooks as wagtail_hooks

from wagtail_messenger import hooks
from wagtail_messenger.models import Thread
from wagtail_messenger.services import conversations

from . import test_contact_forms
from .test_injection import buttons, compose_url

# The contact form fixtures, for the form under a sold listing.
conf, make_contact_page = test_contact_forms.conf, test_contact_forms.make_contact_page

pytestmark = pytest.mark.django_db


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    def run(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return run


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
