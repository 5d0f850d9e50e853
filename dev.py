#!/usr/bin/env python3
"""The two commands a newcomer needs (only Python 3.11+ required):

    python3 dev.py demo    set everything up and serve the demo on http://127.0.0.1:8000
    python3 dev.py test    run the whole test suite (extra pytest arguments pass through)

Both create ``.venv`` on first use and install the package in it (with ``uv`` when it is
on PATH, which is faster, else with pip). Nothing is installed outside the folder.

The same command tests other supported versions (CI does this) through three variables:
``MESSENGER_VENV`` (another folder, e.g. ``.venv-wagtail74``), ``MESSENGER_PYTHON`` (the
interpreter for it, e.g. a Python 3.12 for Django 6) and ``MESSENGER_PINS`` (extra
requirements, e.g. ``"wagtail==7.4.* django==5.2.*"``).
"""

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / os.environ.get("MESSENGER_VENV", ".venv")
BASE_PYTHON = os.environ.get("MESSENGER_PYTHON") or sys.executable
PINS = os.environ.get("MESSENGER_PINS", "").split()
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".installed"


def run(*cmd, **kwargs):
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], check=True, **kwargs)  # noqa: S603


def ensure_env(extra):
    """Create .venv and install ``.[extra]`` once (again when pyproject.toml changes)."""
    if sys.version_info < (3, 11):  # noqa: UP036  (the one place older Pythons reach)
        sys.exit("wagtail-messenger needs Python 3.11 or newer.")
    wanted = f"{extra}:{(ROOT / 'pyproject.toml').stat().st_mtime_ns}:{'+'.join(PINS)}"
    if STAMP.exists() and wanted in STAMP.read_text().split():
        return
    uv = shutil.which("uv")
    if not PYTHON.exists():
        if uv:
            run(uv, "venv", "--quiet", "--python", BASE_PYTHON, VENV)
        elif sys.executable != BASE_PYTHON:
            run(BASE_PYTHON, "-m", "venv", VENV)
        else:
            venv.EnvBuilder(with_pip=True).create(VENV)
    spec = f"{ROOT}[{extra}]" if extra else str(ROOT)
    if uv:
        run(uv, "pip", "install", "--quiet", "--python", PYTHON, "-e", spec, *PINS)
    else:
        pip = [PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        run(*pip, "-e", spec, *PINS)
    previous = STAMP.read_text().split() if STAMP.exists() else []
    STAMP.write_text(" ".join([w for w in previous if not w.startswith(f"{extra}:")] + [wanted]))


def demo(args):
    ensure_env("")
    manage = [PYTHON, ROOT / "sandbox" / "manage.py"]
    run(*manage, "migrate", "--verbosity", "0")
    run(*manage, "seed_demo")
    print("\nDemo marketplace: http://127.0.0.1:8000/   admin: http://127.0.0.1:8000/admin/\n")
    run(*manage, "runserver", "127.0.0.1:8000", *args)


def test(args):
    ensure_env("test")
    env = {**os.environ, "DJANGO_ALLOW_ASYNC_UNSAFE": "true"}
    result = subprocess.run([str(PYTHON), "-m", "pytest", *args], cwd=ROOT, env=env)  # noqa: S603
    sys.exit(result.returncode)


COMMANDS = {"demo": demo, "test": test}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    try:
        COMMANDS[sys.argv[1]](sys.argv[2:])
    except KeyboardInterrupt:
        pass
    except subprocess.CalledProcessError as error:
        sys.exit(error.returncode)
