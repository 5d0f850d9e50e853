"""The load test runs end to end and finds nothing lost, doubled or refused.

Runs ``bench/load.py`` for 10 seconds with 5 clients (one replier, two pollers, a
reader and a guest) against gunicorn, PostgreSQL, Redis, the django-tasks-db worker and
an SMTP sink it starts itself, and reads its JSON report. Latency is not asserted (the
machine is shared); the consistency is. About a minute and a half, most of it Wagtail's
migrations on the throwaway database; in CI it runs in the PostgreSQL pass only.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import IN_CI, require_part

REPO = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def reachable():
    try:
        import psycopg
        import redis

        psycopg.connect(PG_URL, connect_timeout=2).close()
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
        import aiohttp  # noqa: F401
        import aiosmtpd  # noqa: F401
        import gunicorn  # noqa: F401
    except Exception:  # noqa: BLE001 (any missing part: skip with the how-to)
        return False
    return True


@pytest.mark.slow
def test_short_load_loses_and_doubles_nothing():
    if IN_CI and not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        pytest.skip("runs once, in CI's PostgreSQL pass")
    require_part(
        reachable(),
        f"The load test needs PostgreSQL at {PG_URL} (BENCH_PG_URL) and Redis at "
        f"{REDIS_URL} (apt-get install postgresql redis-server), and the bench extra: "
        "pip install -e '.[bench]'",
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(  # noqa: S603
        [sys.executable, "bench/load.py", "--clients", "5", "--seconds", "10"]
        + ["--workers", "2", "--redis", REDIS_URL, "--output", "", "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.stdout.strip(), done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    summary = done.stdout.rsplit("\n", 2)[0]  # the Markdown section, for the failure message
    requests = report["requests"]
    assert requests["errors"] == {}, summary
    assert requests["rate_limited"] == {}, summary
    assert report["lost"] == 0, summary
    assert report["duplicated"] == 0, summary
    # It did what it says: messages posted, polls answered, emails and a guest's link.
    assert report["messages"]["told_saved"] > 0, summary
    assert report["polls"]["polls"] > 0, summary
    assert report["emails"]["notifications_received"] > 0, summary
    assert report["emails"]["guest_links_received"] >= 1, summary
    assert report["run"]["drained"], summary
    # Pages marked read as thread.js does (POST with the sequence number shown), and the
    # sweeper ran at the end of the drain.
    assert report["requests"]["kinds"]["read"]["count"] > 0, summary
    assert report["sweeper"]["status"] == 0, summary
    assert done.returncode in (0, 1), done.stderr
