"""A fresh ``wagtail start`` project adds the app exactly as the README says and migrates.

Runs the real ``wagtail start`` in a temporary folder with this interpreter, appends the
README's settings and URL lines, then ``migrate`` and ``check``.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"


def readme_block(after_heading, language, index=0):
    """The ``index``-th fenced ``language`` block after ``after_heading``."""
    text = README.read_text()
    section = text.split(after_heading, 1)[1]
    return re.findall(rf"```{language}\n(.*?)```", section, re.S)[index]


def run(*cmd, cwd):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = str(REPO)  # as `pip install` would make the package importable
    done = subprocess.run(  # noqa: S603
        [sys.executable, *cmd], cwd=cwd, capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, f"{cmd} failed:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.mark.slow
def test_readme_install_steps_work_in_a_fresh_wagtail_project(tmp_path):
    run("-c", "from wagtail.bin.wagtail import main; main()", "start", "mysite", cwd=tmp_path)
    project = tmp_path / "mysite"
    settings = project / "mysite" / "settings" / "base.py"
    urls = project / "mysite" / "urls.py"

    settings_block = readme_block("## Install into an existing Wagtail site", "python", 0)
    urls_block = readme_block("## Install into an existing Wagtail site", "python", 1)

    text = settings.read_text()
    # The README's INSTALLED_APPS lines go into the project's list.
    apps = re.findall(r'^\s+"([\w.]+)",', settings_block.split("]")[0], re.M)
    text = text.replace(
        "INSTALLED_APPS = [", "INSTALLED_APPS = [\n" + "".join(f'    "{app}",\n' for app in apps), 1
    )
    rest = settings_block.split("]", 1)[1]
    text += "\n" + rest.replace("# ...", "")
    text += '\nWAGTAILMESSENGER_LISTING_MODELS = ["home.HomePage"]\n'
    settings.write_text(text)

    # The README's URL line goes before Wagtail's catch-all.
    include_line = re.search(r"^\s*(path\(\"messages/\".*\)),$", urls_block, re.M).group(1)
    url_text = urls.read_text()
    url_text = url_text.replace("urlpatterns = [", f"urlpatterns = [\n    {include_line},", 1)
    urls.write_text(url_text)

    run("manage.py", "migrate", "--verbosity", "0", cwd=project)
    checked = run("manage.py", "check", cwd=project)
    assert "no issues" in checked.stdout
    shown = run(
        "manage.py",
        "shell",
        "-c",
        "from django.test import Client; print(Client().get('/').status_code)",
        cwd=project,
    )
    assert shown.stdout.strip().splitlines()[-1].split()[0] == "200"
