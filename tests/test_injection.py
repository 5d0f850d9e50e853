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
from wagtail_messenger.injection import MARKER, container_end, insert_button, parse_selector
from wagtail_messenger.models import MessengerSettings
from wagtail_messenger.services import listings, safety

BUTTON_RE = re.compile(
    r"<wagtail-messenger-contact data-wagtail-messenger-button.*?</wagtail-messenger-contact>",
    re.DOTALL,
)


def buttons(response):
    return BUTTON_RE.findall(response.content.decode())


def compose_url(page):
    return f"/messages/new/{page.pk}/"


@pytest.mark.django_db
class TestButton:
    def test_demo_listing_gets_one_button_where_its_marker_is(self, client, listing):
        response = client.get(listing.url)
        html = response.content.decode()
        assert response.status_code == 200
        assert len(buttons(response)) == 1
        assert compose_url(listing) in buttons(response)[0]
        # The demo's card has the marker comment: the button goes inside the card.
        assert html.index("Sold by") < html.index("data-wagtail-messenger-button")
        assert html.index("data-wagtail-messenger-button") < html.index("</article>")
        assert "floating" not in buttons(response)[0]

    def test_marker_comment_places_the_button(self):
        html = b"<html><body><main><p>a</p>" + MARKER.encode() + b"<p>b</p></main></body></html>"
        result = insert_button(html, b"<BUTTON>", lambda: b"<FLOAT>", "main")
        assert result.index(b"<BUTTON>") < result.index(b"<p>b</p>")
        assert insert_button(b"not html at all", b"<BUTTON>", lambda: b"<FLOAT>", "main") is None

    def test_page_without_the_container_gets_the_floating_button(self):
        html = b"<html><body><div>a</div><footer>f</footer></body></html>"
        result = insert_button(html, b"<BUTTON>", lambda: b"<FLOAT>", "main")
        assert result == b"<html><body><div>a</div><footer>f</footer><FLOAT></body></html>"

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


class TestContainer:
    """``container_end``: where the element a simple selector names closes."""

    def end(self, html, selector):
        position = container_end(html.encode(), selector)
        return None if position is None else html[position:]

    def test_main_closes_after_nested_content(self):
        html = "<body><main class='x'><main-ish></main-ish><p>a</p></main><footer></footer>"
        assert self.end(html, "main") == "</main><footer></footer>"

    def test_nested_elements_of_the_same_tag_are_balanced(self):
        html = '<div id="card"><div><div>a</div></div><p>b</p></div><div>after</div>'
        assert self.end(html, "#card") == "</div><div>after</div>"

    def test_class_selector_matches_one_of_several_classes(self):
        html = '<section class="page listing-card wide"><h1>t</h1></section><aside></aside>'
        assert self.end(html, ".listing-card") == "</section><aside></aside>"
        assert self.end(html, "section.listing-card") == "</section><aside></aside>"
        assert self.end(html, "div.listing-card") is None
        assert self.end(html, ".listing") is None

    def test_tags_inside_comments_scripts_and_styles_do_not_count(self):
        html = (
            '<main><!-- <main> --><script>let s = "<main></main>";</script>'
            "<style>main::after{content:'</main>'}</style><p>x</p></main>end"
        )
        assert self.end(html, "main") == "</main>end"

    def test_upper_case_and_attributes_without_quotes(self):
        assert self.end("<MAIN ID=content><P>x</P></MAIN>!", "main#content") == "</MAIN>!"

    def test_missing_or_unclosed_containers_give_nothing(self):
        assert self.end("<body><div>x</div></body>", "main") is None
        assert self.end("<body><main><p>x</p></body>", "main") is None

    @pytest.mark.parametrize("selector", ["", "main > div", "#", "div..x", "[data-x]"])
    def test_other_selectors_are_refused(self, selector):
        with pytest.raises(ValueError):
            parse_selector(selector)


@pytest.fixture
def unmarked_theme(settings, tmp_path):
    """A listing template with header, <main> and footer, and no marker comment."""
    (tmp_path / "marketplace").mkdir()
    (tmp_path / "marketplace" / "listing_page.html").write_text(
        "<html><body><header>Site</header><main><article class='listing'>"
        "<h1>{{ page.title }}</h1><p>Sold by us</p></article><p>More</p></main>"
        "<footer>Footer</footer></body></html>"
    )
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [str(tmp_path), *settings.TEMPLATES[0]["DIRS"]]}
    ]


@pytest.mark.django_db
@pytest.mark.usefixtures("unmarked_theme")
class TestPlacementSettings:
    def test_button_goes_inside_main_after_its_content(self, client, listing):
        html = client.get(listing.url).content.decode()
        assert html.index("<p>More</p>") < html.index("data-wagtail-messenger-button")
        assert html.index("data-wagtail-messenger-button") < html.index("</main>")

    def test_container_setting_names_another_element(self, client, listing, settings):
        settings.WAGTAILMESSENGER_BUTTON_CONTAINER = "article.listing"
        html = client.get(listing.url).content.decode()
        assert html.index("Sold by") < html.index("data-wagtail-messenger-button")
        assert html.index("data-wagtail-messenger-button") < html.index("</article>")

    def test_container_not_on_the_page_gives_a_floating_button(self, client, listing, settings):
        settings.WAGTAILMESSENGER_BUTTON_CONTAINER = "#nowhere"
        response = client.get(listing.url)
        (button,) = buttons(response)
        assert "floating" in button
        html = response.content.decode()
        assert html.index("<footer>") < html.index("data-wagtail-messenger-button")
        assert html.index("data-wagtail-messenger-button") < html.index("</body>")

    def test_a_bad_container_setting_still_serves_the_page(self, client, listing, settings):
        settings.WAGTAILMESSENGER_BUTTON_CONTAINER = "main > div"
        response = client.get(listing.url)
        assert response.status_code == 200
        assert "floating" in buttons(response)[0]

    def test_pages_served_as_plain_responses_get_the_button_too(self, client, listing, monkeypatch):
        from django.http import HttpResponse

        def serve(self, request, *args, **kwargs):
            return HttpResponse("<html><body><main><h1>Own serve</h1></main></body></html>")

        monkeypatch.setattr(ListingPage, "serve", serve)
        html = client.get(listing.url).content.decode()
        assert html.index("Own serve") < html.index("data-wagtail-messenger-button")
        assert html.index("data-wagtail-messenger-button") < html.index("</main>")

    def test_button_styles_live_in_its_shadow_root(self, client, listing):
        (button,) = buttons(client.get(listing.url))
        assert '<template shadowrootmode="open">' in button
        assert 'href="/static/wagtail_messenger/injected.css"' in button
        assert "style=" not in button  # nothing inline: a strict CSP holds


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


BADGE_RE = re.compile(r"<wagtail-messenger-badge .*?</wagtail-messenger-badge>", re.DOTALL)


@pytest.mark.django_db
class TestFloatingBadge:
    """The editors' opt-in "Messages (3)" badge on every page, with no template edit."""

    @pytest.fixture
    def badge_on(self, site):
        MessengerSettings.objects.update_or_create(site=site, defaults={"show_unread_badge": True})

    @pytest.fixture
    def theme_without_widget(self, settings, tmp_path):
        (tmp_path / "base.html").write_text(
            "<html><body><main>{% block content %}{% endblock %}</main></body></html>"
        )
        settings.TEMPLATES = [
            {**settings.TEMPLATES[0], "DIRS": [str(tmp_path), *settings.TEMPLATES[0]["DIRS"]]}
        ]

    def test_off_by_default(self, client, listing, buyer, start, seller, theme_without_widget):
        start(seller, buyer)
        client.force_login(buyer)
        assert BADGE_RE.search(client.get(listing.url).content.decode()) is None

    def test_logged_in_people_see_their_unread_count_on_any_page(
        self, client, badge_on, listing_index, buyer, seller, start, theme_without_widget
    ):
        start(seller, buyer)
        start(seller, buyer, body="And another thing")
        client.force_login(buyer)
        html = client.get(listing_index.url).content.decode()  # not a listing
        (badge,) = BADGE_RE.findall(html)
        assert 'href="/messages/"' in badge
        assert re.search(r"data-wm-unread-count>2<", badge)
        assert html.index("</main>") < html.index("<wagtail-messenger-badge")
        assert html.index("<wagtail-messenger-badge") < html.index("</body>")

    def test_nothing_for_anonymous_visitors(
        self, client, badge_on, listing_index, theme_without_widget
    ):
        assert BADGE_RE.search(client.get(listing_index.url).content.decode()) is None

    def test_the_header_widget_makes_the_badge_stand_down(
        self, client, badge_on, listing_index, buyer
    ):
        # The demo theme shows {% messenger_unread_widget %} in its header.
        client.force_login(buyer)
        html = client.get(listing_index.url).content.decode()
        assert "data-wm-unread-toggle" in html
        assert BADGE_RE.search(html) is None


@pytest.mark.django_db
def test_the_badge_costs_the_same_queries_whatever_the_inbox_holds(
    client, site, listing_index, buyer, seller, start, settings, tmp_path
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    (tmp_path / "base.html").write_text(
        "<html><body>{% block content %}{% endblock %}</body></html>"
    )
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [str(tmp_path), *settings.TEMPLATES[0]["DIRS"]]}
    ]
    client.force_login(buyer)

    def queries():
        client.get(listing_index.url)  # warm the settings and team caches
        with CaptureQueriesContext(connection) as captured:
            html = client.get(listing_index.url).content.decode()
        return len(captured), html

    without, _ = queries()
    MessengerSettings.objects.update_or_create(site=site, defaults={"show_unread_badge": True})
    start(seller, buyer)
    with_one, html = queries()
    assert "<wagtail-messenger-badge" in html
    for _ in range(30):
        start(seller, buyer)
    with_many, _ = queries()
    # The session and the user (a theme with a "log out" link reads them anyway), and
    # the unread total: one indexed query reading at most 100 rows.
    assert with_one == with_many == without + 3
