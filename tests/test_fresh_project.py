"""A fresh ``wagtail start`` project adds the plugin exactly as the README says, with the
built wheel installed (not this checkout), and works with no template edited.

Runs the real ``wagtail start`` in a temporary folder with this interpreter, appends the
README's settings and URL lines, puts the site owner's own settings (which page type is
a listing, where mail goes, the public address, an enforcing Content-Security-Policy)
in the project's ``settings/local.py``, then ``migrate`` and ``check``. The browser test
serves it with ``runserver`` and plays the whole story in Chromium.
"""

import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from wagtail_messenger.conf import DEFAULTS

from .real_parts import free_port
from .sites import STRICT_CSP, outside_env, run_python, wagtail_start

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
INSTALL = "## Install into an existing Wagtail site"
LINK_RE = r"http://127\.0\.0\.1:\d+(/messages/link/[\w-]+/)"
THREAD_RE = r"http://127\.0\.0\.1:\d+(/messages/\d+/)"


def readme_block(after_heading, language, index=0):
    """The ``index``-th fenced ``language`` block after ``after_heading``."""
    text = README.read_text()
    section = text.split(after_heading, 1)[1]
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)[index]


class FreshProject:
    def __init__(self, folder, wheel_dir, port):
        self.folder, self.port = folder, port
        self.url = f"http://127.0.0.1:{port}"
        self.mail = folder / "sent-mail"
        self.env = {"PYTHONPATH": str(wheel_dir)}  # the installed wheel, before the checkout

    def manage(self, *args):
        return run_python("manage.py", *args, cwd=self.folder, env=self.env)

    def shell(self, code):
        return self.manage("shell", "-c", code).stdout.strip().splitlines()[-1]

    def emails_to(self, address):
        texts = [path.read_text() for path in sorted(self.mail.glob("*.log"))]
        messages = [m for text in texts for m in text.split("\n-------------------------------")]
        return [m for m in messages if f"To: {address}" in m]


def add_readme_install_steps(project):
    settings = project / "mysite" / "settings" / "base.py"
    urls = project / "mysite" / "urls.py"
    settings_block = readme_block(INSTALL, "python", 0)
    urls_block = readme_block(INSTALL, "python", 1)

    text = settings.read_text()
    # The README's INSTALLED_APPS lines go into the project's list.
    apps = re.findall(r'^\s+"([\w.]+)",', settings_block.split("]")[0], re.M)
    text = text.replace(
        "INSTALLED_APPS = [", "INSTALLED_APPS = [\n" + "".join(f'    "{app}",\n' for app in apps), 1
    )
    rest = settings_block.split("]", 1)[1]
    text += "\n" + rest.replace("# ...", "")
    settings.write_text(text)

    # The README's URL line goes before Wagtail's catch-all.
    include_line = re.search(r"^\s*(path\(\"messages/\".*\)),$", urls_block, re.M).group(1)
    url_text = urls.read_text()
    url_text = url_text.replace("urlpatterns = [", f"urlpatterns = [\n    {include_line},", 1)
    urls.write_text(url_text)


@pytest.fixture(scope="module")
def fresh_project(tmp_path_factory, installed_wheel):
    folder = wagtail_start(tmp_path_factory.mktemp("fresh"))
    add_readme_install_steps(folder)
    project = FreshProject(folder, installed_wheel, free_port())
    (folder / "mysite" / "settings" / "local.py").write_text(
        "# The site owner's own choices (mysite/settings/dev.py imports this file).\n"
        "from .base import MIDDLEWARE\n"
        'WAGTAILMESSENGER_LISTING_MODELS = ["home.HomePage"]\n'
        f'WAGTAILMESSENGER_BASE_URL = "{project.url}"\n'
        "WAGTAILMESSENGER_POLL_INTERVAL = 1\n"
        'EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"\n'
        f'EMAIL_FILE_PATH = "{project.mail}"\n'
        'MIDDLEWARE = [*MIDDLEWARE, "csp.middleware.CSPMiddleware"]\n'
        f"CONTENT_SECURITY_POLICY = {STRICT_CSP!r}\n"
    )
    project.manage("migrate", "--verbosity", "0")
    # The seller owns the listing (the welcome page here); ownerless ones need the
    # fallback recipient or team of the settings panel.
    project.shell(
        "from django.contrib.auth.models import User; from home.models import HomePage;"
        "seller = User.objects.create_user('seller', 'seller@example.com', 'pw');"
        "HomePage.objects.update(owner=seller); print('ok')"
    )
    return project


@pytest.mark.slow
def test_readme_install_steps_work_with_the_built_wheel(fresh_project, installed_wheel):
    where = fresh_project.shell("import wagtail_messenger; print(wagtail_messenger.__file__)")
    assert where.startswith(str(installed_wheel)), f"not the wheel: {where}"
    checked = fresh_project.manage("check")
    assert "no issues" in checked.stdout
    html = fresh_project.shell(
        "from django.test import Client; print(Client().get('/').content.decode().replace("
        "chr(10), ' '))"
    )
    # The welcome page has a <main>: the button goes inside it.
    main = html[html.index('<main class="main">') : html.index("</main>")]
    assert "<wagtail-messenger-contact data-wagtail-messenger-button>" in main


@pytest.fixture
def served(fresh_project):
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{fresh_project.port}"],
        cwd=fresh_project.folder,
        env=outside_env(**fresh_project.env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(fresh_project.url + "/", timeout=1)  # noqa: S310
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise
            time.sleep(0.2)
    yield fresh_project
    server.terminate()
    server.wait(timeout=10)


@pytest.mark.slow
@pytest.mark.browser
def test_a_visitor_and_the_seller_talk_on_a_fresh_site_under_a_strict_csp(served, page, browser):
    """The issue's "done when": following the README alone, no template edited."""
    from playwright.sync_api import expect

    from .browser.test_themes import SHOTS, collected, watched

    problems = []
    watched(page, problems)
    response = page.goto(served.url + "/")
    policy = response.headers["content-security-policy"].split("; ")
    assert "default-src 'self'" in policy  # enforcing, not report-only
    button = page.get_by_role("link", name="Send message")
    expect(button).to_be_visible()
    page.screenshot(path=SHOTS / "fresh-site-listing.png", full_page=True)
    main = page.locator("main").bounding_box()
    box = button.bounding_box()
    assert main["y"] <= box["y"] and box["y"] + box["height"] <= main["y"] + main["height"]
    button.click()
    shown = time.monotonic()
    page.get_by_label("Your name").fill("Gail Guest")
    page.get_by_label("Your email").fill("gail@example.com")
    page.get_by_label("Message").fill("Hello! Is it still for sale?")
    # The default form traps are on here: a person takes longer than FORM_MIN_SECONDS
    # to write; a submit sooner is refused as a bot's ("That was quick!").
    typing = DEFAULTS["FORM_MIN_SECONDS"] + 0.5 - (time.monotonic() - shown)
    page.wait_for_timeout(max(0, typing) * 1000)
    page.get_by_role("button", name="Send message").click()
    expect(page.get_by_text("Your message was sent")).to_be_visible()

    compose = page.url
    assert "content-security-policy" in page.request.get(compose).headers
    (to_guest,) = served.emails_to("gail@example.com")
    page.goto(served.url + re.search(LINK_RE, to_guest).group(1))
    expect(page.locator(".wm-messages")).to_contain_text("Is it still for sale?")
    page.evaluate("window.__wmSamePage = true")

    # The seller follows the link in their notification email and is asked to log in.
    (to_seller,) = served.emails_to("seller@example.com")
    seller_context = browser.new_context()
    seller_page = watched(seller_context.new_page(), problems)
    seller_page.goto(served.url + re.search(THREAD_RE, to_seller).group(1))
    expect(seller_page).to_have_url(re.compile(r"/_util/login/\?next=/messages/\d+/$"))
    seller_page.get_by_label("Username").fill("seller")
    seller_page.get_by_label("Password").fill("pw")
    seller_page.get_by_role("button", name=re.compile("log in", re.I)).click()
    seller_page.locator(".wm-reply textarea[name=body]").fill("Yes, it is.")
    seller_page.locator(".wm-reply [data-wm-submit]").click()
    expect(seller_page.locator(".wm-messages")).to_contain_text("Yes, it is.")

    expect(page.locator(".wm-messages")).to_contain_text("Yes, it is.", timeout=10000)
    page.screenshot(path=SHOTS / "fresh-site-thread.png", full_page=True)
    assert page.evaluate("window.__wmSamePage") is True, "the guest's page was reloaded"
    problems = collected(page, problems) + collected(seller_page, [])
    seller_context.close()
    assert problems == []
