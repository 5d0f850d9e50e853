"""Every ``aria-describedby`` on the plugin's forms names an element the page has:
Django 5.2 puts ``id_<field>_helptext`` and ``id_<field>_error`` on a widget with help
text or errors, and the templates must give those ids to what they show. Checked on
each form blank and after a failed submit (where the error ids appear)."""

from html.parser import HTMLParser

import pytest
from django.core.cache import caches

from wagtail_messenger.forms import new_key

pytestmark = pytest.mark.django_db


class Ids(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids, self.described = set(), []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if attrs.get("aria-describedby"):
            self.described.append((tag, attrs.get("name"), attrs["aria-describedby"].split()))


def dangling(response):
    """``(tag, name, missing id)`` for each reference to an id the page lacks, and the
    number of references."""
    parser = Ids()
    parser.feed(response.content.decode())
    refs = [(tag, name, ref) for tag, name, wanted in parser.described for ref in wanted]
    return [r for r in refs if r[2] not in parser.ids], len(refs)


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    caches["default"].clear()


def test_the_guest_compose_form_blank_and_with_errors(client, listing):
    url = f"/messages/new/{listing.pk}/"
    missing, _ = dangling(client.get(url))
    assert missing == []
    failed = client.post(url, {"name": "", "email": "not an address", "body": "", "key": new_key()})
    missing, refs = dangling(failed)
    assert missing == []
    assert refs >= 3, "the fields with errors are described by them"


def test_the_reply_form_blank_and_with_errors(client, start, buyer, seller, listing):
    thread = start(buyer, seller, listing=listing).thread
    client.force_login(seller)
    url = thread.get_absolute_url()
    assert dangling(client.get(url))[0] == []
    failed = client.post(url, {"body": " ", "key": new_key()})
    missing, refs = dangling(failed)
    assert missing == [] and refs >= 1


def test_the_preferences_and_lost_link_forms(client, buyer):
    assert dangling(client.get("/messages/link/"))[0] == []
    assert dangling(client.post("/messages/link/", {"email": "nope"}))[0] == []
    client.force_login(buyer)
    missing, refs = dangling(client.get("/messages/preferences/"))
    assert missing == [] and refs >= 1
    failed = client.post("/messages/preferences/", {"email_frequency": "hourly"})
    assert failed.status_code == 400
    assert dangling(failed)[0] == []
