"""The guest forms' honeypot and signed timestamp: compose as a guest, "lost your link?"
and the contact forms refuse a bot's submit with a human message, and send nothing."""

import re
import time

import pytest
from django.core import mail
from wagtail.contrib.forms.models import FormSubmission

from sandbox.marketplace.models import ContactPage, FormField
from wagtail_messenger.forms import HONEYPOT_FIELD, STAMP_FIELD, form_stamp, new_key
from wagtail_messenger.models import Message, MessengerSettings, Thread
from wagtail_messenger.services.parties import Party

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def traps_on(settings):
    settings.WAGTAILMESSENGER_FORM_TRAPS = True


def guest_post(page, **extra):
    return {
        "name": "Vera",
        "email": "vera@example.com",
        "body": "Still there?",
        "key": new_key(),
        **extra,
    }


def compose_url(page):
    return f"/messages/new/{page.pk}/"


class TestCompose:
    def test_the_form_carries_a_hidden_honeypot_and_a_stamp(self, client, listing):
        html = client.get(compose_url(listing)).content.decode()
        field = re.search(r'<div class="wm-hp" hidden aria-hidden="true">.*?</div>', html, re.S)
        assert field, "the honeypot sits in a hidden, aria-hidden wrapper"
        box = field.group(0)
        assert f'name="{HONEYPOT_FIELD}"' in box
        assert 'tabindex="-1"' in box and 'autocomplete="off"' in box
        assert "<label" in box and "Leave this field empty" in box
        assert f'name="{STAMP_FIELD}"' in html

    def test_a_person_who_waited_sends(self, client, listing):
        data = guest_post(listing, **{STAMP_FIELD: form_stamp(time.time() - 10)})
        assert client.post(compose_url(listing), data).status_code == 302
        assert Message.objects.count() == 1

    def test_a_filled_honeypot_sends_nothing(self, client, listing):
        data = guest_post(
            listing, **{STAMP_FIELD: form_stamp(time.time() - 10), HONEYPOT_FIELD: "http://x"}
        )
        response = client.post(compose_url(listing), data)
        assert "could not be sent" in response.content.decode()
        assert Message.objects.count() == 0 and mail.outbox == []

    def test_too_fast_is_told_to_wait_and_keeps_the_text(self, client, listing):
        data = guest_post(listing, **{STAMP_FIELD: form_stamp()})
        html = client.post(compose_url(listing), data).content.decode()
        assert "wait a few seconds" in html
        assert "Still there?" in html
        assert Message.objects.count() == 0 and mail.outbox == []

    @pytest.mark.parametrize("stamp", ["", "forged", "old"])
    def test_missing_forged_or_day_old_stamps_are_refused(self, client, listing, stamp):
        value = form_stamp(time.time() - 2 * 24 * 3600) if stamp == "old" else stamp
        html = client.post(compose_url(listing), guest_post(listing, **{STAMP_FIELD: value}))
        assert "open for too long" in html.content.decode()
        assert Message.objects.count() == 0

    def test_signed_in_people_have_no_traps(self, client, listing, buyer):
        client.force_login(buyer)
        assert HONEYPOT_FIELD not in client.get(compose_url(listing)).content.decode()
        client.post(compose_url(listing), {"body": "Hi", "key": new_key()})
        assert Message.objects.count() == 1

    def test_settings_turn_them_off(self, client, listing, settings):
        settings.WAGTAILMESSENGER_FORM_TRAPS = False
        assert HONEYPOT_FIELD not in client.get(compose_url(listing)).content.decode()
        assert client.post(compose_url(listing), guest_post(listing)).status_code == 302

    def test_the_minimum_is_configurable(self, client, listing, settings):
        settings.WAGTAILMESSENGER_FORM_MIN_SECONDS = 30
        data = guest_post(listing, **{STAMP_FIELD: form_stamp(time.time() - 10)})
        assert "wait a few seconds" in client.post(compose_url(listing), data).content.decode()


class TestRequestLink:
    def test_a_bot_gets_no_email(
        self, client, start, seller, listing, django_capture_on_commit_callbacks
    ):
        start(Party.guest("Gail", "gail@example.com"), seller, listing=listing)
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            fast = client.post(
                "/messages/link/", {"email": "gail@example.com", STAMP_FIELD: form_stamp()}
            )
            honey = client.post(
                "/messages/link/",
                {
                    "email": "gail@example.com",
                    HONEYPOT_FIELD: "x",
                    STAMP_FIELD: form_stamp(time.time() - 9),
                },
            )
        assert "wait a few seconds" in fast.content.decode()
        assert "could not be sent" in honey.content.decode()
        assert mail.outbox == []
        with django_capture_on_commit_callbacks(execute=True):
            client.post(
                "/messages/link/",
                {"email": "gail@example.com", STAMP_FIELD: form_stamp(time.time() - 9)},
            )
        assert len(mail.outbox) == 1


class TestContactForms:
    @pytest.fixture
    def page(self, site):
        conf = MessengerSettings.for_site(site)
        conf.contact_forms_deliver_messages = True
        conf.save()
        page = site.root_page.add_child(
            instance=ContactPage(
                title="Contact",
                slug="contact",
                to_address="seller@example.com",
                from_address="forms@example.com",
                subject="Contact",
                thank_you_text="<p>Thanks</p>",
            )
        )
        for order, (label, kind) in enumerate(
            [("Name", "singleline"), ("Email", "email"), ("Message", "multiline")]
        ):
            FormField.objects.create(
                page=page, sort_order=order, label=label, field_type=kind, required=True
            )
        return page

    def visitor(self, **extra):
        return {"name": "Gus", "email": "gus@example.com", "message": "Hello", **extra}

    def test_a_bot_stores_and_sends_nothing(self, client, page, seller):
        html = client.get(page.url).content.decode()
        assert f'name="{HONEYPOT_FIELD}"' in html and 'aria-hidden="true"' in html
        client.post(page.url, self.visitor(**{STAMP_FIELD: form_stamp()}))
        client.post(
            page.url,
            self.visitor(**{HONEYPOT_FIELD: "x", STAMP_FIELD: form_stamp(time.time() - 9)}),
        )
        assert FormSubmission.objects.count() == 0
        assert Thread.objects.count() == 0 and mail.outbox == []

    def test_a_person_gets_through_and_the_traps_are_not_stored(self, client, page, seller):
        client.post(page.url, self.visitor(**{STAMP_FIELD: form_stamp(time.time() - 9)}))
        submission = FormSubmission.objects.get()
        assert HONEYPOT_FIELD not in submission.form_data
        assert STAMP_FIELD not in submission.form_data
        assert Thread.objects.count() == 1

    def test_over_the_limit_is_429_with_nothing_stored(self, client, page, seller, site, settings):
        conf = MessengerSettings.for_site(site)
        conf.guest_threads_per_day = 1
        conf.save()
        stamp = {STAMP_FIELD: form_stamp(time.time() - 9)}
        assert client.post(page.url, self.visitor(**stamp)).status_code == 200
        refused = client.post(page.url, self.visitor(**stamp))
        assert refused.status_code == 429 and refused["Retry-After"].isdigit()
        assert FormSubmission.objects.count() == 1 and Thread.objects.count() == 1
