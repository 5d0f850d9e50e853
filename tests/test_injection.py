"""The "Send message" button on listing pages: where it goes, when it does not, and that
private listings stay private with the plugin installed."""

import re

import pytest
from django.contrib.auth.models import Group
from django.test import override_settings
from wagtail import hooks as wagtail_hooks
from wagtail.models import PageViewRestriction

from sandbox.marketplace.models import ListingIndexPage, ListingPage
from wagtail_messenger import hooks
from wagtail_messenger.injection import MARKER, insert_markup
from wagtail_messenger.models import MessengerSettings
from wagtail_messenger.services import listings, safety

BUTTON_RE = re.compile(
    r'<div class="wm-listing-contact" data-wagtail-messenger-button>.*?</div>', re.DOTALL
)


def buttons(response):
    return BUTTON_RE.findall(response.content.decode())


def compose_url(page):
    return f"/messages/new/{page.pk}/"


@pytest.mark.django_db
class TestButton:
    def test_listing_page_gets_one_button_before_body_end(self, client, listing):
        response = client.get(listing.url)
        html = response.content.decode()
        assert response.status_code == 200
        assert len(buttons(response)) == 1
        assert compose_url(listing) in buttons(response)[0]
        assert html.index("data-wagtail-messenger-button") < html.rindex("</body>")

    def test_other_pages_get_no_button(self, client, listing_index):
        assert buttons(client.get(listing_index.url)) == []

    def test_marker_comment_places_the_button(self, listing):
        html = b"<html><body><p>a</p>" + MARKER.encode() + b"<p>b</p></body></html>"
        result = insert_markup(html, b"<BUTTON>")
        assert result.index(b"<BUTTON>") < result.index(b"<p>b</p>")
        assert insert_markup(b"not html at all", b"<BUTTON>") is None

    def test_markup_is_identical_for_anonymous_and_logged_in(self, client, listing, buyer):
        anonymous = buttons(client.get(listing.url))
        client.force_login(buyer)
        logged_in = buttons(client.get(listing.url))
        assert anonymous == logged_in
        assert "csrf" not in anonymous[0].lower()
        assert buyer.username not in anonymous[0]

    def test_editor_switch_turns_the_button_off(self, client, site, listing):
        MessengerSettings.objects.update_or_create(site=site, defaults={"show_button": False})
        assert buttons(client.get(listing.url)) == []

    def test_messenger_off_turns_the_button_off(self, client, site, listing):
        MessengerSettings.objects.update_or_create(site=site, defaults={"enabled": False})
        assert buttons(client.get(listing.url)) == []

    def test_seller_who_opted_out_gets_no_button(self, client, listing, seller):
        safety.set_allow_contact(seller, False)
        assert buttons(client.get(listing.url)) == []

    def test_not_a_listing_without_the_setting(self, client, listing):
        with override_settings(WAGTAILMESSENGER_LISTING_MODELS=[]):
            assert buttons(client.get(listing.url)) == []

    def test_hook_decides_which_pages_are_listings(self, client, listing, listing_index, seller):
        ListingIndexPage.objects.filter(pk=listing_index.pk).update(owner=seller)
        with wagtail_hooks.register_temporarily(
            hooks.IS_LISTING, lambda page, request: isinstance(page, ListingIndexPage) or None
        ):
            assert len(buttons(client.get(listing_index.url))) == 1
            assert len(buttons(client.get(listing.url))) == 1

    def test_non_html_and_non_200_responses_are_untouched(self, client, listing):
        assert client.get(listing.url + "does-not-exist/").status_code == 404
        assert (
            b"data-wagtail-messenger-button"
            not in client.get(listing.url + "does-not-exist/").content
        )


@pytest.mark.django_db
class TestOwnerlessListings:
    def test_no_owner_and_no_fallback_means_no_button(self, client, make_listing):
        page = make_listing(title="Fixture bike", owner=None)
        assert buttons(client.get(page.url)) == []
        assert listings.recipient_for(page) is None

    def test_fallback_user_receives(self, client, site, make_listing, make_user):
        staff = make_user("staff", is_staff=True)
        MessengerSettings.objects.update_or_create(site=site, defaults={"fallback_user": staff})
        page = make_listing(title="Fixture bike", owner=None)
        assert listings.recipient_for(page) == staff
        assert len(buttons(client.get(page.url))) == 1

    def test_fallback_group_is_a_team_inbox(self, client, site, make_listing):
        team = Group.objects.create(name="Sales team")
        MessengerSettings.objects.update_or_create(site=site, defaults={"fallback_group": team})
        page = make_listing(title="Fixture bike", owner=None)
        assert listings.recipient_for(page) == team
        assert listings.recipient_party(page).group == team
        assert len(buttons(client.get(page.url))) == 1

    def test_recipient_hook_wins_over_owner(self, listing, make_user):
        agent = make_user("agent")
        with wagtail_hooks.register_temporarily(
            hooks.LISTING_RECIPIENT, lambda page, request: agent
        ):
            assert listings.recipient_for(listing) == agent

    def test_page_method_wins_over_owner(self, listing, make_user, monkeypatch):
        agent = make_user("agent")
        monkeypatch.setattr(
            ListingPage, "get_messenger_recipient", lambda self: agent, raising=False
        )
        assert listings.recipient_for(listing) == agent


@pytest.mark.django_db
class TestTemplateTag:
    def test_tag_places_the_button_and_automatic_insertion_stands_down(
        self, client, listing, settings, tmp_path
    ):
        theme = tmp_path / "marketplace"
        theme.mkdir()
        (theme / "listing_page.html").write_text(
            "{% load messenger_tags %}<html><body><h1>{{ page.title }}</h1>"
            '<div id="here">{% messenger_button page %}</div><footer>end</footer></body></html>'
        )
        settings.TEMPLATES = [
            {**settings.TEMPLATES[0], "DIRS": [str(tmp_path), *settings.TEMPLATES[0]["DIRS"]]}
        ]
        html = client.get(listing.url).content.decode()
        assert html.count("data-wagtail-messenger-button") == 1
        assert html.index('<div id="here">') < html.index("data-wagtail-messenger-button")
        assert html.index("data-wagtail-messenger-button") < html.index("<footer>")


@pytest.mark.django_db
class TestPrivateListings:
    def test_password_protected_listing_stays_protected(self, client, listing):
        PageViewRestriction.objects.create(
            page=listing, restriction_type=PageViewRestriction.PASSWORD, password="secret"
        )
        response = client.get(listing.url)
        assert response.status_code == 200
        html = response.content.decode()
        assert "password" in html.lower()
        assert "data-wagtail-messenger-button" not in html
        assert listing.title not in html or "Road bike" not in BUTTON_RE.sub("", html)
        # The compose page does not reveal it either.
        assert client.get(compose_url(listing)).status_code == 404

    def test_login_restricted_listing_redirects_to_login(self, client, listing, buyer):
        PageViewRestriction.objects.create(page=listing, restriction_type=PageViewRestriction.LOGIN)
        response = client.get(listing.url)
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]
        assert client.get(compose_url(listing)).status_code == 404
        client.force_login(buyer)
        assert len(buttons(client.get(listing.url))) == 1
        assert client.get(compose_url(listing)).status_code == 200
