"""The preferences page: "Allow others to contact me" and how often to be emailed
(tests/test_digests.py has the choices and the daily summary)."""

import pytest
from django.urls import reverse

from wagtail_messenger.actors import GUEST_SESSION_KEY, Actor
from wagtail_messenger.exceptions import NotAllowed, RecipientUnavailable
from wagtail_messenger.models import ContactPreference, Message
from wagtail_messenger.services import conversations, safety
from wagtail_messenger.services.parties import Party

pytestmark = pytest.mark.django_db

PREFERENCES = reverse("wagtail_messenger:preferences")
BUTTON = "data-wagtail-messenger-button"
REFUSAL = "This person does not accept messages at the moment."


def notices(response):
    return [str(m) for m in response.context["messages"]]


def test_only_logged_in_users_have_preferences(client, start, seller):
    assert client.get(PREFERENCES)["Location"].startswith("/accounts/login/")
    start(Party.guest("Gus", "gus@example.com"), seller)
    session = client.session
    session[GUEST_SESSION_KEY] = "gus@example.com"
    session.save()
    assert client.get(PREFERENCES)["Location"].startswith("/accounts/login/")
    with pytest.raises(NotAllowed):
        safety.set_preferences(None, allow_contact=False)


def test_both_switches_start_on_and_are_saved(client, seller):
    client.force_login(seller)
    response = client.get(PREFERENCES)
    form = response.context["form"]
    assert form.initial == {"allow_contact": True, "email_frequency": "round"}, "the site's"
    html = response.content.decode()
    assert "Allow others to contact me" in html and "csrfmiddlewaretoken" in html

    # Unticking a box sends nothing for it, as a browser does.
    response = client.post(PREFERENCES, {"email_frequency": "every"}, follow=True)
    assert "Your preferences were saved." in notices(response)
    saved = ContactPreference.objects.get(user=seller)
    assert (saved.allow_contact, saved.email_frequency) == (False, "every")
    assert response.context["form"].initial["allow_contact"] is False

    inbox = client.get(reverse("wagtail_messenger:inbox")).content.decode()
    assert "You do not accept new conversations." in inbox

    client.post(PREFERENCES, {"allow_contact": "on", "email_frequency": "never"})
    saved.refresh_from_db()
    assert (saved.allow_contact, saved.email_frequency) == (True, "never")


def test_opting_out_hides_the_button_from_ones_listings_only(
    client, seller, make_user, make_listing
):
    mine = make_listing("My bike", owner=seller)
    theirs = make_listing("Their bike", owner=make_user("other_seller"))
    assert BUTTON in client.get(mine.url).content.decode()
    safety.set_allow_contact(seller, False)
    assert BUTTON not in client.get(mine.url).content.decode()
    assert BUTTON in client.get(theirs.url).content.decode()


def test_opted_out_sellers_refuse_new_threads_with_a_clear_message(
    client, start, buyer, seller, listing
):
    safety.set_allow_contact(seller, False)
    with pytest.raises(RecipientUnavailable) as refused:
        start(buyer, seller, listing=listing)
    assert str(refused.value) == REFUSAL
    client.force_login(buyer)
    compose = reverse("wagtail_messenger:compose", args=[listing.pk])
    response = client.post(compose, {"body": "Hello?", "key": "k-1"})
    assert response.status_code == 403
    assert REFUSAL in response.content.decode()
    assert not Message.objects.exists()


def test_existing_threads_go_on_after_opting_out(start, buyer, seller, listing):
    thread = start(buyer, seller, listing=listing).thread
    safety.set_allow_contact(seller, False)
    posted = conversations.post_message(
        actor=Actor.for_user(buyer), thread=thread, body="One more question"
    )
    assert posted.message.state == Message.State.VISIBLE
    assert thread.participants.get(user=seller).unread_count == 2


def test_the_page_works_where_no_site_serves_the_host(client, seller):
    from wagtail.models import Site

    Site.objects.all().delete()  # a host no site answers for, and no default site
    client.force_login(seller)
    response = client.get(PREFERENCES)
    assert response.status_code == 200
    assert response.context["form"].initial["email_frequency"] == "round", "the defaults"
