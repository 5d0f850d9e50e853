#!/usr/bin/env python
"""The messenger's benchmark.

    python bench/run.py --quick --json     T = 100 and 2,000 on SQLite; one JSON object
    python bench/run.py                    everything (SQLite and PostgreSQL, T up to
                                           20,000) and a table in bench/RESULTS.md

``--redis [URL]`` makes Redis the cache (LocMemCache otherwise), as a production site
should have it: the team list and the site settings then cost a network round trip.

Each database runs in its own process (``--worker``) on a fresh database: SQLite in a
temporary file, PostgreSQL in a throwaway database created next to ``BENCH_PG_URL``
(default ``postgres://postgres@127.0.0.1:5432/postgres``) and dropped afterwards.

Every operation goes through Django's test client with the full middleware stack
(database sessions, CSRF, auth, messages) and the measured user logged in. For each:
queries, median and p95 milliseconds over ``--runs`` runs after warm-up, and ``ratio``,
the median divided by ``floor_auth``'s median in the same rounds.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OPERATIONS = [
    *("floor", "floor_auth", "inbox", "inbox_cold", "thread", "thread_cold", "unread"),
    *("poll", "reply", "reply_immediate", "purge"),
]


# -- the parent: run workers, gather, print or write ------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="T = 100 and 2,000 on SQLite")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--db", choices=["sqlite", "postgres"], action="append")
    parser.add_argument("--threads", help="comma-separated T values")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument(
        "--redis",
        metavar="URL",
        nargs="?",
        const="redis://127.0.0.1:6379/0",
        help="use Redis as the cache, as production should (default: LocMemCache); "
        "the table goes to bench/RESULTS-redis.md",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    if args.redis:
        os.environ["BENCH_REDIS_URL"] = args.redis  # read by bench/settings.py in the workers

    dbs = args.db or (["sqlite"] if args.quick else ["sqlite", "postgres"])
    levels = args.threads or ("100,2000" if args.quick else "100,2000,20000")
    results = []
    for db in dbs:
        cmd = [
            sys.executable,
            __file__,
            "--worker",
            "--db",
            db,
            "--threads",
            levels,
            "--runs",
            str(args.runs),
        ]
        out = subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True)  # noqa: S603
        results += json.loads(out.stdout.strip().splitlines()[-1])["results"]
        if not args.json:
            print(f"{db}: done", file=sys.stderr)
    report = {"results": results}
    if args.json:
        print(json.dumps(report))
    if not args.quick:
        path = ROOT / "bench" / ("RESULTS-redis.md" if args.redis else "RESULTS.md")
        write_markdown(results, path, args.runs, cache="Redis" if args.redis else "LocMemCache")
        if not args.json:
            print(path.read_text())


def write_markdown(results, path, runs, cache):
    import platform

    import django

    lines = [
        "# Benchmark results",
        "",
        "Written by `python bench/run.py` (see the module docstring for the method and "
        "[docs/performance.md](../docs/performance.md) for the findings). `ratio` is the "
        "median divided by `floor_auth`'s median in the same rounds; `purge` reports rows "
        "deleted per second in `rows_per_s`.",
        "",
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: Python "
        f"{platform.python_version()}, Django {django.get_version()}, "
        f"{os.cpu_count()} CPUs, {runs} timed runs per operation, cache: {cache}.",
        "",
        "| db | threads | operation | queries | median ms | p95 ms | ratio | rows/s |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        lines.append(
            f"| {r['db']} | {r['threads']} | {r['operation']} | {r['queries']} | "
            f"{r['median_ms']:.2f} | {r['p95_ms']:.2f} | {r['ratio']:.2f} | "
            f"{r.get('rows_per_s', '') or ''} |"
        )
    path.write_text("\n".join(lines) + "\n")


# -- the worker: one database, every T ------------------------------------------------


def setup_database(db):
    if db == "sqlite":
        os.environ["BENCH_SQLITE"] = os.path.join(tempfile.mkdtemp(), "bench.sqlite3")
        return lambda: None
    import psycopg

    base = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    name = f"wm_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["BENCH_DATABASE_URL"] = base.rsplit("/", 1)[0] + "/" + name

    def drop():
        from django.db import connections

        connections.close_all()
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return drop


def worker(args):
    sys.path.insert(0, str(ROOT))
    drop = setup_database(args.db[0])
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        results = measure_all(args.db[0], [int(t) for t in args.threads.split(",")], args.runs)
    finally:
        drop()
    print(json.dumps({"results": results}))


def measure_all(db, levels, runs):
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from wagtail.models import Site

    from bench.data import DataSet

    Site.objects.update(hostname="testserver")
    data = DataSet()
    data.build()
    results = []
    for level in levels:
        data.grow_to(level)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        client = Client()
        client.force_login(data.me)
        operations = build_operations(client, data)
        # Everything is timed in rounds, one request of each per round, so that a slow
        # moment of the machine falls on all of them alike rather than on one operation
        # and not on the floor it is divided by. The order is shuffled every round
        # (seeded): in a fixed order each operation always follows the same one, and a
        # light request that follows a light one finds the interpreter's and the CPU's
        # caches warm where one that follows a full page does not (measured on the same
        # run: the floor, always after "floor", came out 10% cheaper and the header
        # total, always after the thread page, 20% dearer than in shuffled rounds). The
        # reply moves the idle poll's cursor to the message it posted, so the poll still
        # finds nothing new.
        shuffler = random.Random(level)
        queries, samples = {}, {name: [] for name in operations}
        for name in operations:
            for _ in range(5):  # warm-up
                check(name, operations[name]())
            with CaptureQueriesContext(connection) as ctx:
                check(name, operations[name]())
            queries[name] = len(ctx)
        names = list(operations)
        for _ in range(runs):
            for name in shuffler.sample(names, len(names)):
                start = time.perf_counter()
                check(name, operations[name]())
                samples[name].append((time.perf_counter() - start) * 1000)
                reset_queries()
        timings = {name: (queries[name], samples[name]) for name in operations}
        floor_auth = statistics.median(timings["floor_auth"][1])
        for name, (queries, samples) in timings.items():
            results.append(row(db, level, name, queries, samples, floor_auth))
    results.append(measure_purge(db, data, levels[-1], floor_auth))
    return results


def row(db, level, name, queries, samples, floor_auth):
    samples = sorted(samples)
    median = statistics.median(samples)
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return {
        "db": db,
        "threads": level,
        "operation": name,
        "queries": queries,
        "median_ms": round(median, 3),
        "p95_ms": round(p95, 3),
        "ratio": round(median / floor_auth, 2),
    }


def check(name, response):
    if response.status_code not in (200, 204, 302, 304):
        raise RuntimeError(f"{name} answered {response.status_code}")
    return response


def build_operations(client, data):
    from django.core import mail
    from django.test import override_settings
    from django.urls import reverse

    from wagtail_messenger.models import Message

    thread_url = reverse("wagtail_messenger:thread", args=[data.big_thread.pk])
    newest = [
        Message.objects.filter(thread=data.big_thread)
        .order_by("-seq")
        .values_list("seq", flat=True)[0]
    ]  # the idle poll's cursor (a sequence number): each reply moves it one on
    poll_url = reverse("wagtail_messenger:poll", args=[data.big_thread.pk])

    from django_tasks import default_task_backend

    def reply():
        queued = len(default_task_backend.results)
        response = client.post(
            thread_url, {"body": "Deal. When can I pick it up?", "key": uuid.uuid4().hex}
        )
        if getattr(mail, "outbox", []):
            raise RuntimeError("reply sent an email inside the request")
        if len(default_task_backend.results) <= queued:
            raise RuntimeError("reply did not enqueue its notification")
        newest[0] += 1  # nobody else writes in the thread
        return response

    def reply_immediate():
        """The reply with the README's default task backend: the notification task runs
        in the request, after the commit (the recipient is owed no email after the
        first: one per round)."""
        immediate = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
        with override_settings(TASKS=immediate):
            response = client.post(
                thread_url, {"body": "Deal. When can I pick it up?", "key": uuid.uuid4().hex}
            )
        newest[0] += 1
        mail.outbox = []
        return response

    def cold(url):
        """The page with every inbox row and message rendered by its template (as with
        an empty fragment cache)."""
        with override_settings(WAGTAILMESSENGER_FRAGMENT_CACHE_SECONDS=0):
            return client.get(url)

    def idle_poll():
        response = client.get(poll_url, {"after": newest[0]})
        if response.status_code != 204:
            raise RuntimeError(f"the poll found something new ({response.status_code})")
        return response

    return {
        "floor": lambda: client.get("/bench/floor/"),
        "floor_auth": lambda: client.get("/bench/floor-auth/"),
        "inbox": lambda: client.get(reverse("wagtail_messenger:inbox")),
        "inbox_cold": lambda: cold(reverse("wagtail_messenger:inbox")),
        "thread": lambda: client.get(thread_url),
        "thread_cold": lambda: cold(thread_url),
        "unread": lambda: client.get(reverse("wagtail_messenger:unread")),
        "poll": idle_poll,
        "reply": reply,
        "reply_immediate": reply_immediate,
    }


def measure_purge(db, data, level, floor_auth):
    """Rows deleted per second by the inactive-threads job over the filler threads."""
    from datetime import timedelta

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from wagtail_messenger.models import Thread
    from wagtail_messenger.services import maintenance

    old = timezone.now() - timedelta(days=400)
    filler = Thread.objects.exclude(participants__user=data.me)
    Thread.objects.filter(pk__in=filler.values("pk")).update(last_message_at=old)
    start = time.perf_counter()
    with CaptureQueriesContext(connection) as ctx:
        result = maintenance.purge_inactive_threads(days=360)
    elapsed = time.perf_counter() - start
    deleted = result.rows_deleted
    result = row(db, level, "purge", len(ctx), [elapsed * 1000], floor_auth)
    result["rows_per_s"] = round(deleted / elapsed) if elapsed else 0
    result["rows_deleted"] = deleted
    return result


if __name__ == "__main__":
    main()
