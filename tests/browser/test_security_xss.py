"""The XSS corpus in a real browser (Debian's chromium through Playwright): every field
filled with payloads that call ``wmXss(n)``, every page of tests/security/test_xss.py
loaded as the person who sees it, and the header widget's drop-down opened (its JSON
is text the script must insert as text). A payload that runs calls the function this
test defines before any page script, or opens a dialog: both are recorded."""

import pytest
from django.conf import settings as django_settings

from tests.security.figures import add, record
from tests.security.test_xss import screens
from tests.security.world import build_world
from tests.security.xss import FIELDS, PAYLOADS, decode, placements
from wagtail_messenger.models import MessengerSettings

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
ROUNDS = placements()
TRAP = """
window.__wmXss = [];
window.wmXss = function (n) { window.__wmXss.push(String(n)); };
"""


def cookies_of(world, actor, base_url):
    client = world.fresh_client(actor)
    name = django_settings.SESSION_COOKIE_NAME
    if name not in client.cookies:
        return []
    return [{"name": name, "value": client.cookies[name].value, "url": base_url}]


@pytest.mark.parametrize("round_index", range(len(ROUNDS)))
def test_no_payload_runs_in_the_browser(
    browser, live_server, site, listing_index, make_user, round_index
):
    values = ROUNDS[round_index]
    world = build_world(site, listing_index, make_user, text=values.__getitem__)
    site.site_name = values["site_name"]
    site.save()
    conf = MessengerSettings.for_site(site)
    conf.blocked_words = values["settings_text"]
    conf.save()
    ran, dialogs, loads = [], [], 0
    # The trap itself catches a payload that runs (else passing would prove nothing).
    control = browser.new_context()
    control.add_init_script(TRAP)
    probe = control.new_page()
    probe.set_content('<img src="x" onerror="wmXss(4242)">')
    probe.wait_for_function("window.__wmXss.length > 0")
    assert probe.evaluate("window.__wmXss") == ["4242"]
    control.close()
    by_actor = {}
    for screen, actor, path in screens(world, values):
        by_actor.setdefault(actor, []).append((screen, path))
    for actor, pages in by_actor.items():
        context = browser.new_context()
        context.add_init_script(TRAP)
        context.add_cookies(cookies_of(world, actor, live_server.url))
        page = context.new_page()
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        for screen, path in pages:
            page.goto(live_server.url + path, wait_until="load")
            if screen == "listing page" or (actor == "seller" and screen == "inbox (seller)"):
                toggle = page.locator("[data-wm-unread-toggle]")
                if toggle.count():
                    toggle.first.click()
                    page.wait_for_timeout(300)
            page.wait_for_timeout(50)  # autofocus, ontoggle and load handlers
            loads += 1
            for number in page.evaluate("window.__wmXss"):
                ran.append(f"{screen}: payload {decode(number)} {PAYLOADS[decode(number)[0]]!r}")
        context.close()
    add("XSS (browser)", "page_loads", loads)
    add("XSS (browser)", "executed", len(ran) + len(dialogs))
    record("XSS (browser)", payloads=len(PAYLOADS), fields=len(FIELDS), rounds=len(ROUNDS))
    assert loads >= 20
    assert not ran and not dialogs, "\n".join(ran + dialogs)
