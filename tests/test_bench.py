"""The benchmark script runs and prints the JSON object docs/performance.md describes.

Runs ``bench/run.py --quick --json`` for T = 100 only (the full quick run, T = 100 and
2,000, takes about two minutes); the timings themselves are not asserted (benchmark
figures, not timed tests), the shape, the operations and the query counts are.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import IN_CI

REPO = Path(__file__).resolve().parent.parent
OPERATIONS = {
    *("floor", "floor_auth", "inbox", "inbox_cold", "thread", "thread_cold", "unread"),
    *("poll", "reply", "reply_immediate", "purge"),
}


@pytest.mark.slow
def test_quick_json_run_reports_every_operation():
    if IN_CI and os.environ.get("DATABASE_URL"):
        pytest.skip("runs once, in CI's SQLite pass (the bench builds its own database)")
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(  # noqa: S603
        [sys.executable, "bench/run.py", "--quick", "--json", "--threads", "100"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)["results"]
    assert {r["operation"] for r in results} == OPERATIONS
    for r in results:
        assert set(r) >= {"db", "threads", "operation", "queries", "median_ms", "p95_ms", "ratio"}
        assert (r["db"], r["threads"]) == ("sqlite", 100)
        assert 0 < r["median_ms"] <= r["p95_ms"]
    by_name = {r["operation"]: r for r in results}
    assert by_name["floor_auth"]["ratio"] == 1
    assert by_name["floor"]["queries"] == 0
    # The header total and the idle poll: one query beyond the session and the user.
    assert by_name["unread"]["queries"] == by_name["floor_auth"]["queries"] + 1
    assert by_name["poll"]["queries"] == by_name["floor_auth"]["queries"] + 1
    assert by_name["purge"]["rows_per_s"] > 0
    # An empty fragment cache renders the rows and messages again, with no more queries.
    assert by_name["inbox_cold"]["queries"] == by_name["inbox"]["queries"]
    assert by_name["thread_cold"]["queries"] == by_name["thread"]["queries"]
