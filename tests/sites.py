"""Sites the plugin was not written for, and the built wheel they install.

Themes, as real template sets (``tests/themes/``):

- ``wagtail_start``: the base template the installed Wagtail's ``wagtail start``
  generates (made by running it), with a listing template written like its home page;
- ``main_footer``: header, ``<main>``, footer, blocks named ``main`` and ``js``, and a
  stylesheet with rules that would spoil a button without styles of its own;
- ``no_blocks``: a base template without a single block, and a listing page that is a
  whole document with no ``<main>``.

Loaded by conftest.py, for tests/test_themes.py, tests/browser/test_themes.py,
tests/test_packaging.py and tests/test_fresh_project.py.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import require_part

REPO = Path(__file__).resolve().parent.parent
THEMES = Path(__file__).resolve().parent / "themes"
THEME_NAMES = ["wagtail_start", "main_footer", "no_blocks"]
#: An enforcing policy as strict as sites set: nothing inline, nothing from elsewhere.
STRICT_CSP = {"DIRECTIVES": {"default-src": ["'self'"], "object-src": ["'none'"]}}


def outside_env(**extra):
    """This process's environment without the test settings, plus ``extra``."""
    clean = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    return {**clean, **extra}


def run_python(*args, cwd, env=None):
    """Run this interpreter outside the test settings; fail with its output."""
    done = subprocess.run(  # noqa: S603
        [sys.executable, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=outside_env(**(env or {})),
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done


def wagtail_start(folder, name="mysite"):
    """``wagtail start <name>`` in ``folder``, as a new user types it."""
    run_python("-c", "from wagtail.bin.wagtail import main; main()", "start", name, cwd=folder)
    return folder / name


@pytest.fixture(scope="session")
def wagtail_start_project(tmp_path_factory):
    return wagtail_start(tmp_path_factory.mktemp("wagtail-start"))


@pytest.fixture
def use_theme(settings, wagtail_start_project):
    """``use_theme(name)``: the site's templates and static files become that theme's."""

    def use(name):
        own = THEMES / name
        templates, static = [own], [own / "static"]
        if name == "wagtail_start":
            templates.append(wagtail_start_project / "mysite" / "templates")
            static.append(wagtail_start_project / "mysite" / "static")
        settings.TEMPLATES = [
            {**settings.TEMPLATES[0], "DIRS": [str(folder) for folder in templates]}
        ]
        settings.STATICFILES_DIRS = [str(folder) for folder in static if folder.is_dir()]

    return use


@pytest.fixture
def fresh_site_login(settings):
    """The login set-up of a fresh Wagtail project: no LOGIN_URL or front-end login URL
    of its own, and no /accounts/ URLs."""
    del settings.LOGIN_URL
    del settings.WAGTAIL_FRONTEND_LOGIN_URL
    settings.ROOT_URLCONF = "tests.fresh_urls"


def uv():
    """The ``uv`` command (what ``dev.py`` and CI install with), or a skip saying how."""
    found = shutil.which("uv")
    require_part(found, "Packaging tests need uv: python3 -m pip install uv")
    return found


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory):
    """The wheel of this checkout, built as a release is: from its sdist, in a clean
    folder (a wheel built in place could carry stale files from ``build/``)."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(  # noqa: S603
        [uv(), "build", "--quiet", "--out-dir", str(out), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("wagtail_messenger-*.whl")
    return wheel


@pytest.fixture(scope="session")
def installed_wheel(built_wheel, tmp_path_factory):
    """A folder holding the wheel installed without dependencies: put it first on
    ``PYTHONPATH`` to run this interpreter with the wheel instead of the checkout."""
    target = tmp_path_factory.mktemp("site-packages")
    subprocess.run(  # noqa: S603
        [uv(), "pip", "install", "--quiet", "--no-deps", "--python", sys.executable,
         "--target", str(target), str(built_wheel)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return target
