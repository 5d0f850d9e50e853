"""The plugin in themes it was not written for (tests/sites.py), through Wagtail's
real serve path and the plugin's own views: where the button goes, that the plugin's
pages sit in the theme with their stylesheet and scripts, and that logging in works on
a site with no login page of its own. The same themes in Chromium:
tests/browser/test_themes.py."""

import re

import pytest
from django.urls import reverse

from wagtail_messenger import checks
from wagtail_messenger.services import guests
from wagtail_messenger.services.parties import Party

from .sites import THEME_NAMES

pytestmark = pytest.mark.django_db

STYLESHEET = '<link rel="stylesheet" href="/static/wagtail_messenger/messenger.css">'
THREAD_JS = '<script type="module" src="/static/wagtail_messenger/thread.js"></script>'
BUTTON = "<wagtail-messenger-contact"

#: Where each theme puts a page's content, as the plugin's pages must find it.
FRAME = {
    "wagtail_start": ('<link rel="stylesheet" type="text/css" href="/static/css/mysite.css">',),
    "main_footer": ('<main id="page" class="site-main">', "</main>"),
    "no_blocks": ('<body class="wm-standalone">', "</main>"),
}


def between(html, start, end):
    return html[html.index(start) : html.index(end, html.index(start))]


@pytest.fixture(params=THEME_NAMES)
def theme(request, use_theme):
    use_theme(request.param)
    return request.param


def test_button_goes_inside_main_or_floats_where_there_is_none(theme, client, listing):
    html = client.get(listing.url).content.decode()
    assert html.count(BUTTON) == 1
    button = html[html.index(BUTTON) :]
    if theme == "main_footer":
        assert BUTTON in between(html, '<main id="page"', "</main>")
        assert html.index("</article>") < html.index(BUTTON) < html.index("<footer")
        assert "floating" not in button.split(">", 1)[0]
    else:  # no <main>: a floating button, never a bare link after the footer
        assert button.split(">", 1)[0].endswith(" floating")
        assert html.index(BUTTON) < html.rindex("</body>")


def test_plugin_pages_sit_in_the_theme_with_their_assets(theme, client, listing):
    html = client.get(reverse("wagtail_messenger:compose", args=[listing.pk])).content.decode()
    for mark in FRAME[theme]:
        assert mark in html
    content = html[html.index(FRAME[theme][0]) :]
    assert "Send a message" in content
    # Stylesheet and script come with the page's content, whatever blocks the theme has.
    assert STYLESHEET in content and THREAD_JS in content
    assert content.index(STYLESHEET) < content.index("Send a message")
    if theme == "no_blocks":
        assert "Old shop" not in html  # a base template with no blocks cannot hold it


def test_thread_page_loads_its_live_script_in_every_theme(theme, client, listing, start, seller):
    thread = start(Party.guest("Gail", "gail@example.com"), seller, listing=listing).thread
    link = guests.issue_link("gail@example.com", thread=thread)
    client.get(re.sub(r"^https?://[^/]+", "", link))
    html = client.get(thread.get_absolute_url()).content.decode()
    assert THREAD_JS in html
    assert '<script id="wm-thread-config" type="application/json">' in html
    assert "Hello, is it still available?" in html


def test_checks_say_which_theme_needs_a_setting(theme):
    found = [message.id for message in checks.check_base_template(None)]
    assert found == (["wagtail_messenger.W031"] if theme == "no_blocks" else [])


@pytest.mark.usefixtures("fresh_site_login")
class TestLoginOnAFreshSite:
    """No LOGIN_URL, no /accounts/ URLs: Wagtail's own front-end login is used."""

    @pytest.fixture(autouse=True)
    def fresh_theme(self, use_theme):
        use_theme("wagtail_start")

    def test_anonymous_inbox_ends_on_a_working_login_page(self, client, site):
        response = client.get("/messages/", follow=True)
        assert response.redirect_chain == [("/_util/login/?next=/messages/", 302)]
        assert response.status_code == 200
        assert 'type="password"' in response.content.decode()

    def test_compose_form_shows_a_working_log_in_link(self, client, listing):
        html = client.get(reverse("wagtail_messenger:compose", args=[listing.pk])).content
        link = re.search(r'href="([^"]+)">Have an account\? Log in', html.decode()).group(1)
        assert link == f"/_util/login/?next=%2Fmessages%2Fnew%2F{listing.pk}%2F"
        assert client.get(link.replace("&amp;", "&")).status_code == 200

    def test_logging_in_comes_back_to_the_inbox(self, client, seller):
        response = client.post(
            "/_util/login/", {"username": "seller", "password": "pw", "next": "/messages/"}
        )
        assert response["Location"] == "/messages/"
        assert client.get("/messages/").status_code == 200

    def test_claim_and_preferences_pages_link_the_same_login(self, client, site):
        html = client.get(reverse("wagtail_messenger:claim")).content.decode()
        assert 'href="/_util/login/?next=%2Fmessages%2F"' in html
        assert client.get("/messages/preferences/")["Location"] == (
            "/_util/login/?next=/messages/preferences/"
        )

    def test_a_projects_front_end_login_url_wins(self, client, site, settings):
        settings.WAGTAIL_FRONTEND_LOGIN_URL = "/sign-in/"
        assert client.get("/messages/")["Location"] == "/sign-in/?next=/messages/"


def test_with_debug_on_a_block_added_to_the_base_template_is_used_at_once(
    client, listing, settings, tmp_path
):
    settings.DEBUG = True
    base = tmp_path / "base.html"
    base.write_text("<html><body><p>Old</p></body></html>")
    # Uncached loaders, as the development server's autoreloader makes them on a change.
    loaders = [
        "django.template.loaders.filesystem.Loader",
        "django.template.loaders.app_directories.Loader",
    ]
    options = {**settings.TEMPLATES[0]["OPTIONS"], "loaders": loaders}
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "APP_DIRS": False, "DIRS": [str(tmp_path)], "OPTIONS": options}
    ]
    compose = reverse("wagtail_messenger:compose", args=[listing.pk])
    assert "wm-standalone" in client.get(compose).content.decode()
    base.write_text("<html><body><main>{% block content %}{% endblock %}</main></body></html>")
    html = client.get(compose).content.decode()
    assert "wm-standalone" not in html and '<main><div class="wm">' in html
