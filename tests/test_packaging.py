"""The built wheel, as a site owner installs it: what it holds, and that no extra moves
the site's Django (run on each supported Django line: CI runs this module on Django 5.2
and on Django 6)."""

import json
import shutil
import subprocess
import sys
import zipfile

import django
import pytest

from .conftest import require_part
from .sites import uv

EXTRAS = ["", "s3", "worker", "postgres", "mysql"]


def mysqlclient_builds():
    """mysqlclient has no wheels for Linux: pip builds it, and even its metadata needs
    the client library's pkg-config file."""
    pkg_config = shutil.which("pkg-config")
    if pkg_config is None:
        return False
    return subprocess.run([pkg_config, "--exists", "mysqlclient"]).returncode == 0  # noqa: S603


def test_wheel_holds_templates_static_files_and_migrations(built_wheel):
    names = set(zipfile.ZipFile(built_wheel).namelist())
    for name in [
        "wagtail_messenger/templates/wagtail_messenger/base.html",
        "wagtail_messenger/templates/wagtail_messenger/layouts/standalone.html",
        "wagtail_messenger/templates/wagtail_messenger/button.html",
        "wagtail_messenger/templates/wagtail_messenger/badge.html",
        "wagtail_messenger/static/wagtail_messenger/injected.css",
        "wagtail_messenger/static/wagtail_messenger/thread.js",
        "wagtail_messenger/migrations/0003_messengersettings_show_unread_badge.py",
        "wagtail_messenger/migrations/0004_portable_unique_constraints.py",
    ]:
        assert name in names, name
    assert not [name for name in names if name.startswith(("tests/", "sandbox/"))]


@pytest.fixture(scope="module")
def site_env(tmp_path_factory):
    """A new environment holding only this Django and pip, like a site before it installs
    the plugin: ``pip`` is what site owners run, and its resolver is the one that took
    Django down a version for the old ``[worker]`` extra."""
    folder = tmp_path_factory.mktemp("site-env")
    python = folder / "bin" / "python"
    for command in [
        ["venv", "--quiet", "--seed", "--python", sys.executable, str(folder)],
        ["pip", "install", "--quiet", "--python", str(python), f"django=={django.get_version()}"],
    ]:
        subprocess.run([uv(), *command], check=True)  # noqa: S603
    return python


@pytest.mark.parametrize("extra", EXTRAS, ids=lambda extra: extra or "no-extra")
def test_no_extra_changes_the_sites_django(built_wheel, site_env, extra, tmp_path):
    if extra == "mysql":
        require_part(
            mysqlclient_builds(),
            "mysqlclient builds against MySQL's client library: "
            "apt-get install default-libmysqlclient-dev build-essential pkg-config",
        )
    requirement = f"{built_wheel}[{extra}]" if extra else str(built_wheel)
    report = tmp_path / "report.json"
    done = subprocess.run(  # noqa: S603
        [str(site_env), "-m", "pip", "install", "--dry-run", "--quiet",
         "--disable-pip-version-check", "--report", str(report), requirement],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    installs = {
        item["metadata"]["name"].lower(): item["metadata"]["version"]
        for item in json.loads(report.read_text())["install"]
    }
    assert "wagtail-messenger" in installs  # the wheel itself, and what it needs
    assert "django" not in installs, f"{requirement} would install Django {installs['django']}"
