"""The whole story in themes the plugin was not written for (tests/sites.py), in
Chromium, on a site with no login page of its own: a visitor finds the styled button
inside the page (or floating where the page has no <main>), writes as a guest, opens the
emailed link and replies without a reload; the seller, sent from the inbox to Wagtail's
login page, logs in and answers; the answer reaches the guest's open page without a
reload. The fourth case is the second theme under an enforcing Content-Security-Policy.
No console error, script error or CSP violation may happen on the way."""

import re
import tempfile
from pathlib import Path

import pytest
from django.core import mail
from playwright.sync_api import expect

from wagtail_messenger.models import MessengerSettings

from ..sites import STRICT_CSP

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LINK_RE = re.compile(r"https?://[^/\s]+(/messages/link/[\w-]+/)")
#: Screenshots to look at after a run.
SHOTS = Path(tempfile.gettempdir()) / "wm-themes"
CASES = {
    "wagtail_start": ("wagtail_start", None),
    "main_footer": ("main_footer", None),
    "no_blocks": ("no_blocks", None),
    "main_footer_csp": ("main_footer", STRICT_CSP),
}
WATCH = """
window.__wmProblems = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__wmProblems.push(`CSP ${event.violatedDirective}: ${event.blockedURI}`);
});
"""


@pytest.fixture(params=list(CASES))
def theme(request, use_theme, fresh_site_login, settings, site):
    MessengerSettings.objects.update_or_create(site=site, defaults={"show_unread_badge": True})
    name, policy = CASES[request.param]
    use_theme(name)
    if policy:
        settings.CONTENT_SECURITY_POLICY = policy
    settings.WAGTAILMESSENGER_POLL_INTERVAL = 1
    return request.param


def watched(page, problems):
    """Record the page's console errors, script errors and CSP violations in ``problems``."""
    page.add_init_script(WATCH)
    page.on(
        "console",
        lambda message: (
            message.type == "error"
            and "favicon.ico" not in (message.location or {}).get("url", "")
            and problems.append(f"console: {message.text}")
        ),
    )
    page.on("pageerror", lambda error: problems.append(f"script: {error}"))
    return page


def collected(page, problems):
    return problems + page.evaluate("window.__wmProblems || []")


def shadow_link_style(page, host_selector):
    return page.evaluate(
        """(selector) => {
            const host = document.querySelector(selector);
            const link = host.shadowRoot.querySelector("a");
            const style = getComputedStyle(link);
            return {position: getComputedStyle(host).position, border: style.borderTopColor,
                    radius: style.borderTopLeftRadius, size: style.fontSize,
                    decoration: style.textDecorationLine};
        }""",
        host_selector,
    )


def test_guest_and_seller_talk_live_in_a_foreign_theme(
    theme, page, browser, live_server, listing, seller
):
    SHOTS.mkdir(exist_ok=True)
    problems = []
    watched(page, problems)

    # The listing: the button is there, styled by its own shadow root.
    response = page.goto(live_server.url + listing.url)
    if theme.endswith("_csp"):
        policy = response.headers["content-security-policy"].split("; ")
        assert "default-src 'self'" in policy  # enforcing, not report-only
    button = page.get_by_role("link", name="Send message")
    expect(button).to_be_visible()
    page.screenshot(path=SHOTS / f"theme-{theme}-listing.png", full_page=True)
    box = button.bounding_box()
    look = shadow_link_style(page, "wagtail-messenger-contact")
    if theme.startswith("main_footer"):
        main = page.locator("main").bounding_box()
        footer = page.locator("footer").bounding_box()
        assert main["y"] <= box["y"] and box["y"] + box["height"] <= main["y"] + main["height"]
        assert box["y"] + box["height"] <= footer["y"], "above the footer"
        # Two custom properties in the theme's stylesheet restyle it; the theme's
        # rules for links (green, wavy, 9px inside main) do not reach it.
        assert (look["border"], look["radius"]) == ("rgb(138, 28, 124)", "0px")
        assert look["size"] != "9px" and look["decoration"] == "none"
        assert look["position"] == "static"
    else:  # no <main>: floating in the bottom corner of the window
        assert look["position"] == "fixed"
        viewport = page.viewport_size
        assert box["x"] + box["width"] <= viewport["width"]
        assert box["y"] + box["height"] <= viewport["height"]
        assert box["y"] > viewport["height"] / 2

    # The compose page is in the theme, with the plugin's stylesheet applied.
    button.click()
    expect(page.get_by_role("heading", name="Send a message")).to_be_visible()
    notice = page.locator(".wm .wm-notice").first
    expect(notice).to_have_css("background-color", "rgb(238, 246, 251)")
    page.get_by_label("Your name").fill("Gail Guest")
    page.get_by_label("Your email").fill("gail@example.com")
    page.get_by_label("Message").fill("Hello! Is it still for sale?")
    page.get_by_role("button", name="Send message").click()
    expect(page.get_by_text("Your message was sent")).to_be_visible()

    # The emailed link opens the thread; a reply is posted without leaving the page.
    (to_guest,) = [m for m in mail.outbox if m.to == ["gail@example.com"]]
    page.goto(live_server.url + LINK_RE.search(to_guest.body).group(1))
    expect(page.locator(".wm-messages")).to_contain_text("Is it still for sale?")
    page.evaluate("window.__wmSamePage = true")
    page.locator(".wm-reply textarea[name=body]").fill("Does it come with lights?")
    page.locator(".wm-reply [data-wm-submit]").click()
    expect(page.locator(".wm-messages")).to_contain_text("Does it come with lights?")
    assert page.evaluate("window.__wmSamePage") is True, "the reply reloaded the page"

    # The seller, not logged in, opens the inbox and lands on a working login page.
    seller_context = browser.new_context()
    seller_page = watched(seller_context.new_page(), problems)
    seller_page.goto(live_server.url + "/messages/")
    expect(seller_page).to_have_url(re.compile(r"/_util/login/\?next=/messages/$"))
    seller_page.get_by_label("Username").fill("seller")
    seller_page.get_by_label("Password").fill("pw")
    seller_page.get_by_role("button", name=re.compile("log in", re.I)).click()
    expect(seller_page).to_have_url(live_server.url + "/messages/")
    # Back on the site, the floating badge (turned on by an editor) counts the unread
    # messages and leads to the inbox.
    seller_page.goto(live_server.url + listing.url)
    badge = seller_page.get_by_role("link", name="Messages 2 unread")
    expect(badge).to_be_visible()
    assert shadow_link_style(seller_page, "wagtail-messenger-badge")["position"] == "fixed"
    badge.click()
    expect(seller_page).to_have_url(live_server.url + "/messages/")
    expect(seller_page.locator(".wm-inbox__select-all")).to_be_visible()  # inbox.js ran
    seller_page.get_by_role("link", name=re.compile("Road bike")).first.click()
    seller_page.locator(".wm-reply textarea[name=body]").fill("Yes, front and back lights.")
    seller_page.locator(".wm-reply [data-wm-submit]").click()
    expect(seller_page.locator(".wm-messages")).to_contain_text("front and back lights")

    # The guest's open page shows the answer without a reload.
    expect(page.locator(".wm-messages")).to_contain_text("front and back lights", timeout=10000)
    assert page.evaluate("window.__wmSamePage") is True
    if theme.startswith("main_footer"):  # the theme's --wm-accent reaches the pages too
        seller_avatar = page.locator(".wm-message:not(.wm-message--mine) .wm-avatar")
        expect(seller_avatar).to_have_css("background-color", "rgb(138, 28, 124)")
    page.screenshot(path=SHOTS / f"theme-{theme}-thread.png", full_page=True)
    problems = collected(page, problems) + collected(seller_page, [])
    seller_context.close()
    assert problems == []
