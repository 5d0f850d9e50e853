"""The demo shows every feature out of the box (``python3 dev.py demo`` runs ``seed_demo``)."""

import re

import pytest
from django.core import mail
from django.core.management import call_command
from wagtail.models import Site

from sandbox.marketplace.models import ContactPage, ListingPage
from wagtail_messenger.forms import new_key
from wagtail_messenger.models import Participant, Thread

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(db):
    call_command("seed_demo", verbosity=0)
    call_command("seed_demo", verbosity=0)  # safe to run again


def test_emailed_links_point_at_the_address_the_demo_is_served_on(
    demo, client, django_capture_on_commit_callbacks
):
    assert Site.objects.get(is_default_site=True).root_url == "http://127.0.0.1:8000"
    bike = ListingPage.objects.get(title="Vintage road bike")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            f"/messages/new/{bike.pk}/",
            {"name": "Gail", "email": "gail@example.com", "body": "For sale?", "key": new_key()},
        )
    (to_guest,) = [m for m in mail.outbox if m.to == ["gail@example.com"]]
    assert re.search(r"http://127\.0\.0\.1:8000/messages/link/[\w-]+/", to_guest.body)


def test_a_listing_nobody_owns_reaches_the_team(demo, client):
    espresso = ListingPage.objects.get(title="Espresso machine")
    assert espresso.owner_id is None
    html = client.get(espresso.url).content.decode()
    assert f"/messages/new/{espresso.pk}/" in html
    assert client.login(username="buyer", password="buyer")
    client.post(f"/messages/new/{espresso.pk}/", {"body": "Does it froth milk?", "key": new_key()})
    thread = Thread.objects.get(listing=espresso)
    team = Participant.objects.get(thread=thread, kind=Participant.Kind.GROUP)
    assert team.group.name == "Marketplace team"
    assert client.login(username="moderator", password="moderator")  # a team member
    assert "Does it froth milk?" in client.get(thread.get_absolute_url()).content.decode()


def test_the_contact_form_delivers_a_message(demo, client):
    contact = ContactPage.objects.get(slug="contact")
    response = client.post(
        contact.url,
        {"name": "Gail Guest", "email": "gail@example.com", "message": "Do you ship abroad?"},
    )
    assert response.status_code == 200
    thread = Thread.objects.get(origin=Thread.Origin.CONTACT_FORM)
    guest = Participant.objects.get(thread=thread, kind=Participant.Kind.GUEST)
    assert guest.name == "Gail Guest"
