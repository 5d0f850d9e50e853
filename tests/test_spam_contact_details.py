"""Contact details in messages: what is found (a table of true and false positives, whose
figures docs/moderation.md quotes), the recipient's warning in "warn" mode, and the
sender of a held message told so."""

import pytest

from wagtail_messenger.forms import new_key
from wagtail_messenger.models import Message, MessengerSettings
from wagtail_messenger.services import spam

#: Contact details people write, with the region phone numbers are read in.
TRUE_POSITIVES = [
    ("bob@gmail.com", "US"),
    ("Write to jean.dupont+velo@orange.fr please", "FR"),
    ("bob [at] gmail [dot] com", "US"),
    ("bob (at) gmail (dot) com", "US"),
    ("bob(at)gmail.com", "US"),
    ("bob {at} gmail {dot} com", "US"),
    ("bob at gmail dot com", "US"),
    ("contact me: bob at gmail.com", "US"),
    ("bob @ gmail . com", "US"),
    ("b o b @ g m a i l . c o m", "US"),
    ("j e a n . d u p o n t (at) o r a n g e . f r", "FR"),
    ("bob arobase free point fr", "FR"),
    ("call me at (212) 555-0123", "US"),
    ("my cell 212-555-0123", "US"),
    ("+1 415 555 2671", "FR"),
    ("appelle-moi au 06 12 34 56 78", "FR"),
    ("0612345678", "FR"),
    ("+33 6 12 34 56 78", "US"),
    ("0 6 1 2 3 4 5 6 7 8", "FR"),
    ("ring 020 7946 0958 after six", "GB"),
    ("+44 7911 123456", "US"),
    ("06.12.34.56.78", "FR"),
]

#: Ordinary messages that hold no contact details.
FALSE_POSITIVES = [
    ("price 1 250 000 euros", "FR"),
    ("price 1 250 000 euros", "US"),
    ("ref 2024-11-22", "US"),
    ("ref 2024-11-22", "FR"),
    ("order 123456789 shipped", "US"),
    ("IBAN FR76 3000 6000 0112 3456 7890 189", "FR"),
    ("built 1985-2024, 10 000 km", "FR"),
    ("serial 4711-0815-2342", "US"),
    ("We meet at the station. Then we ride.", "US"),
    ("Look at google.com for the manual", "US"),
    ("I work at example.com", "US"),
    ("I can be there at 6 dot on", "US"),
    ("Size: 52 cm, 11 speed, 9.8 kg", "US"),
    ("Available at noon. Com'on, it's cheap", "US"),
    ("the A B C of bikes", "US"),
    ("dimensions 120 x 60 x 45 cm", "FR"),
    ("call me tomorrow at 5", "US"),
    ("postcode 75011 Paris", "FR"),
]


@pytest.mark.parametrize(("text", "region"), TRUE_POSITIVES)
def test_contact_details_are_found(text, region):
    assert spam.has_contact_details(text, region=region)


@pytest.mark.parametrize(("text", "region"), FALSE_POSITIVES)
def test_ordinary_messages_are_not_flagged(text, region):
    assert not spam.has_contact_details(text, region=region)


@pytest.mark.parametrize(
    ("language_code", "setting", "region"),
    [
        ("en-us", None, "US"),
        ("en-gb", None, "GB"),
        ("fr", None, "FR"),
        ("en", None, "US"),
        ("de-at", None, "AT"),
        ("sv", None, "SE"),
        ("fr", "be", "BE"),
        ("eo", None, None),
    ],
)
def test_the_region_is_derived_from_the_language(settings, language_code, setting, region):
    settings.LANGUAGE_CODE = language_code
    settings.WAGTAILMESSENGER_PHONE_REGION = setting
    assert spam.phone_region() == region


def test_system_check_for_a_bad_region(settings):
    from wagtail_messenger import checks

    settings.WAGTAILMESSENGER_PHONE_REGION = "France"
    assert [c.id for c in checks.check_phone_region(None)] == ["wagtail_messenger.E008"]
    settings.WAGTAILMESSENGER_PHONE_REGION = "fr"
    assert checks.check_phone_region(None) == []


def set_mode(site, mode):
    conf = MessengerSettings.for_site(site)
    conf.contact_details = mode
    conf.save()


WARNING = "This message contains contact details. Keep payments on the site"


@pytest.mark.django_db
class TestOnThePage:
    def test_warn_shows_the_recipient_a_warning(self, client, site, start, buyer, seller, listing):
        set_mode(site, "warn")
        thread = start(
            buyer, seller, listing=listing, body="mail me: bob [at] gmail [dot] com"
        ).thread
        start(buyer, seller, listing=listing, body="And is the saddle new?")
        client.force_login(seller)
        html = client.get(thread.get_absolute_url()).content.decode()
        assert html.count(WARNING) == 1  # on that message only
        client.force_login(buyer)  # the sender is not warned about their own message
        assert WARNING not in client.get(thread.get_absolute_url()).content.decode()

    def test_the_warning_follows_the_setting_through_the_fragment_cache(
        self, client, site, start, buyer, seller, listing
    ):
        set_mode(site, "warn")
        thread = start(buyer, seller, listing=listing, body="ring 212-555-0123").thread
        client.force_login(seller)
        assert WARNING in client.get(thread.get_absolute_url()).content.decode()
        set_mode(site, "allow")
        assert WARNING not in client.get(thread.get_absolute_url()).content.decode()

    def test_held_sender_is_told_right_after_sending_and_on_the_message(
        self, client, site, start, buyer, seller, listing
    ):
        set_mode(site, "hold")
        thread = start(buyer, seller, listing=listing).thread
        client.force_login(buyer)
        response = client.post(
            thread.get_absolute_url(),
            {"body": "text me 212-555-0123", "key": new_key()},
            follow=True,
        )
        html = response.content.decode()
        assert Message.objects.get(body="text me 212-555-0123").state == Message.State.HELD
        assert (
            "waits for a moderator&#x27;s review" in html
            or "waits for a moderator's review" in html
        )
        assert "contains contact details" in html
        assert "Waiting for review: this message contains contact details" in html
        client.force_login(seller)  # the recipient sees nothing of it
        assert "text me" not in client.get(thread.get_absolute_url()).content.decode()

    def test_held_sender_is_told_in_the_json_answer(
        self, client, site, start, buyer, seller, listing
    ):
        set_mode(site, "hold")
        thread = start(buyer, seller, listing=listing).thread
        client.force_login(buyer)
        answer = client.post(
            thread.get_absolute_url(),
            {"body": "bob (at) gmail.com", "key": new_key()},
            HTTP_ACCEPT="application/json",
        ).json()
        assert answer["held"] is True
        assert "contains contact details" in answer["notice"]
        assert "Waiting for review" in answer["messages"][0]["html"]

    def test_held_for_spam_the_reason_is_not_told(
        self, client, site, start, buyer, seller, listing
    ):
        conf = MessengerSettings.for_site(site)
        conf.blocked_words = "crypto\nwire\ngiftcard"
        conf.save()
        thread = start(buyer, seller, listing=listing).thread
        client.force_login(buyer)
        html = client.post(
            thread.get_absolute_url(),
            {"body": "crypto wire giftcard", "key": new_key()},
            follow=True,
        ).content.decode()
        assert "review before it is delivered." in html
        assert "blocked word" not in html

    def test_a_page_of_messages_reads_the_flag_without_a_query_each(
        self, client, site, start, buyer, seller, listing
    ):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        set_mode(site, "warn")
        thread = start(buyer, seller, listing=listing, body="bob@gmail.com").thread
        client.force_login(seller)
        client.get(thread.get_absolute_url())

        def page_queries():
            with CaptureQueriesContext(connection) as counted:
                html = client.get(thread.get_absolute_url()).content.decode()
            return len(counted.captured_queries), html.count(WARNING)

        one = page_queries()
        for n in range(10):
            start(buyer, seller, listing=listing, body=f"call 212-555-01{n:02d}")
        client.get(thread.get_absolute_url())  # marks them read, as the first visit did
        eleven = page_queries()
        assert (one[1], eleven[1]) == (1, 11)
        assert eleven[0] == one[0]
