#!/usr/bin/env python
"""The messenger under load, then a check that nothing was lost or doubled.

    python bench/load.py                          50 clients, 60 s, 0.5-1 s pauses
    python bench/load.py --clients 10 --seconds 20 --json

Everything runs on 127.0.0.1 and is started and stopped here: a throwaway PostgreSQL
database (created next to ``BENCH_PG_URL``, default
``postgres://postgres@127.0.0.1:5432/postgres``, dropped at the end), Redis as the cache
and the rate-limit cache (``--redis``, keys under a prefix of this run, deleted at the
end), the sandbox under gunicorn (``--workers`` sync workers on a free port), the
django-tasks-db worker (``manage.py db_worker``) and an aiosmtpd SMTP sink. Nothing is
downloaded. Settings: ``bench/load_settings.py``; seed: ``bench/data.py``
(``Marketplace``); the clients: ``bench/load_clients.py``; the check:
``bench/load_checks.py``.

``--clients`` are split into pollers (30%), repliers (30%), readers (20%) and guests
(20%), each pausing ``--pause`` seconds (a range) between two requests, for
``--seconds``. Then the worker's queue is drained, each poller polls once more, the
outbox's sweeper (``manage.py messenger_send_outbox``) sends whatever a task left
pending, the queue is drained again, and the check compares what the clients were told
with the database and the sink. The report
(throughput, p50/p95/p99 per kind of request, errors by status, 429s apart, lost and
duplicated counts, each check) is printed as a Markdown section for
docs/performance.md, written to ``--output`` (``bench/RESULTS-load.md``), and with
``--json`` printed as one JSON object on the last line. The exit status is 1 when a
check failed, an error or a 429 occurred; latency is reported against the target
(p99 <= 250 ms for every kind) but does not change the exit status.
"""

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

P99_TARGET_MS = 250
MIX = (("poller", 0.3), ("reader", 0.2), ("guest", 0.2))  # repliers: the rest


def main(argv=None):
    args = parse_args(argv)
    run = LoadRun(args)
    try:
        report = run.execute()
    finally:
        run.cleanup()
    markdown = to_markdown(report)
    print(markdown)
    if args.output:
        Path(args.output).write_text(markdown + "\n")
    if args.json:
        print(json.dumps(report, default=str))
    return 0 if report["passed"] else 1


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument(
        "--pause", default="0.5-1", help="seconds between a client's requests, MIN-MAX"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 2,
        help="gunicorn worker processes (default: one per CPU)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads per gunicorn worker: more than 1 runs the gthread worker (keep-alive)",
    )
    parser.add_argument(
        "--task-workers", type=int, default=1, help="django-tasks-db workers (db_worker)"
    )
    parser.add_argument(
        "--task-nice",
        type=int,
        default=10,
        help="niceness of the task workers: mail waits a few ms so that pages do not",
    )
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument(
        "--output",
        default=str(ROOT / "bench" / "RESULTS-load.md"),
        help="write the Markdown section here ('' for nowhere)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    args = parser.parse_args(argv)
    low, _, high = args.pause.partition("-")
    args.pause = (float(low), float(high or low))
    if args.clients < 4:
        parser.error("--clients: at least 4 (one of each kind)")
    return args


def split(clients):
    counts = {kind: max(1, round(clients * share)) for kind, share in MIX}
    counts["replier"] = clients - sum(counts.values())
    if counts["replier"] < 1:
        raise SystemExit("--clients too small for the mix")
    return counts


def say(text):
    print(f"[load {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Sink:
    """The SMTP server the app's emails go to; keeps each with its arrival time."""

    def __init__(self):
        self.received = []
        self.lock = threading.Lock()
        self.controller = None

    async def handle_DATA(self, server, session, envelope):
        from bench.load_checks import Received

        data = envelope.original_content or envelope.content
        mail = Received(time.time(), envelope.rcpt_tos, data)
        with self.lock:
            self.received.append(mail)
        return "250 Message accepted for delivery"

    def start(self, port):
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=port)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def to(self, address):
        address = address.lower()
        with self.lock:
            return [m for m in self.received if address in m.recipients]

    def count(self):
        with self.lock:
            return len(self.received)


class LoadRun:
    def __init__(self, args):
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="messenger-load-"))
        self.processes = {}
        self.sink = Sink()
        self.drop_database = None
        self.prefix = f"wm-load-{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        self.smtp_port = free_port()
        self.task_workers = [f"worker{i}" for i in range(args.task_workers)]
        self.sweep = None
        self.logged_before_stop = {}

    # -- the parts ---------------------------------------------------------------------

    def environment(self):
        os.environ.update(
            {
                "DJANGO_SETTINGS_MODULE": "bench.load_settings",
                "BENCH_REDIS_URL": self.args.redis,
                "BENCH_CACHE_PREFIX": self.prefix,
                "BENCH_SMTP_PORT": str(self.smtp_port),
                "BENCH_BASE_URL": f"http://127.0.0.1:{self.port}",
                "BENCH_PRIVATE": str(self.tmp / "private"),
                "PYTHONPATH": os.pathsep.join(
                    filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
                ),
            }
        )
        (self.tmp / "private").mkdir()

    def start_process(self, name, cmd):
        log = open(self.tmp / f"{name}.log", "wb")  # noqa: SIM115 (closed in stop_processes)
        process = subprocess.Popen(  # noqa: S603
            cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes[name] = (process, log)
        return process

    def stop_processes(self):
        for name, (process, log) in list(self.processes.items()):
            log.flush()
            # What a process logged until now is what the run did; a traceback it writes
            # while it is being stopped is its shutdown's, reported apart (django-tasks-db's
            # worker leaves by sys.exit() from its SIGTERM handler, which, landing in its
            # poll query, logs the transaction it could not close).
            self.logged_before_stop[name] = (self.tmp / f"{name}.log").stat().st_size
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
            log.close()
            del self.processes[name]

    def log_tail(self, name, lines=30):
        path = self.tmp / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def wait_for_web(self, timeout=60):
        import urllib.request

        until = time.time() + timeout
        while time.time() < until:
            process = self.processes["gunicorn"][0]
            if process.poll() is not None:
                raise RuntimeError("gunicorn stopped:\n" + self.log_tail("gunicorn"))
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/bench/floor/") as page:  # noqa: S310
                    if page.status == 200:
                        return
            except OSError:  # refused while gunicorn starts (urllib.error.URLError too)
                pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer:\n" + self.log_tail("gunicorn"))

    def drain(self, timeout=120):
        """Wait until the worker has run every queued task and the sink has been quiet
        for a second; returns whether it got there."""
        from django.db import connections
        from django_tasks_db.models import DBTaskResult

        until = time.time() + timeout
        quiet_since, seen = None, -1
        try:
            while time.time() < until:
                for name in self.task_workers:
                    if self.processes[name][0].poll() is not None:
                        raise RuntimeError(f"{name} stopped:\n" + self.log_tail(name))
                pending = DBTaskResult.objects.filter(status__in=["READY", "RUNNING"]).exists()
                count = self.sink.count()
                if pending or count != seen:
                    quiet_since, seen = None, count
                elif quiet_since is None:
                    quiet_since = time.time()
                elif time.time() - quiet_since >= 1:
                    return True
                time.sleep(0.2)
            return False
        finally:
            connections.close_all()

    # -- the run -----------------------------------------------------------------------

    def execute(self):
        from bench.run import setup_database

        self.environment()
        self.drop_database = setup_database("postgres")
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection, connections

        say(f"database {os.environ['BENCH_DATABASE_URL'].rsplit('/', 1)[1]} created; migrating")
        with connection.cursor() as cursor:
            # Only this connection, which builds the database: the web workers and the
            # task worker commit as PostgreSQL does by default.
            cursor.execute("SET synchronous_commit TO off")
        call_command("migrate", verbosity=0)
        say("seeding")
        roles = self.seed()
        connections.close_all()

        self.sink.start(self.smtp_port)
        manage = [sys.executable, str(ROOT / "sandbox" / "manage.py")]
        nice = ["nice", "-n", str(self.args.task_nice)] if self.args.task_nice else []
        for name in self.task_workers:
            self.start_process(
                name,
                [*nice, *manage, "db_worker", "--interval", "0.1", "--no-startup-delay"]
                + ["--worker-id", name],
            )
        self.start_process(
            "gunicorn",
            [
                *(sys.executable, "-m", "gunicorn", "bench.wsgi:application"),
                *("--bind", f"127.0.0.1:{self.port}", "--workers", str(self.args.workers)),
                *("--worker-class", "gthread" if self.args.threads > 1 else "sync"),
                *("--threads", str(self.args.threads)),
                *("--timeout", "60", "--graceful-timeout", "5"),
                *("--log-level", "warning", "--chdir", str(ROOT), "--preload"),
            ],
        )
        self.wait_for_web()
        say("gunicorn and the worker are up; warming up, sending the seed's emails")
        warm_reads = asyncio.run(self.warm_up(roles))
        seed_drained = self.drain()
        recorder, drained = asyncio.run(self.load(roles))
        recorder.reads += warm_reads
        self.stop_processes()
        say("checking")
        from bench.load_checks import run_checks

        report = run_checks(recorder, list(self.sink.received))
        report.update(self.tasks_and_logs())
        report["run"] = self.describe(roles, seed_drained and drained)
        report["sweeper"] = self.sweep
        report["requests"] = request_stats(recorder)
        summarise(report, recorder)
        return report

    def seed(self):
        from bench.data import Marketplace, create_users

        counts = split(self.args.clients)
        sellers = create_users([f"seller{i}" for i in range(counts["replier"])])
        pollers = create_users([f"poller{i}" for i in range(counts["poller"])])
        readers = create_users([f"reader{i}" for i in range(counts["reader"])])
        quiet = create_users([f"quiet{i}" for i in range(max(2, self.args.clients // 5))])
        warm = create_users(["warmup"])[0]
        n = len(sellers)
        plan = [(warm, sellers[0], 3)]
        for i, user in enumerate(pollers):
            plan.append((user, sellers[i % n], 25 if i % 2 == 0 else 3))  # 25: more than a page
        for i, user in enumerate(readers):
            plan.append((user, sellers[i % n], 4))
            if n > 1:
                plan.append((user, sellers[(i + 1) % n], 2))
        for i, user in enumerate(quiet):
            plan.append((user, sellers[i % n], 3))
        if n > 1:
            for i, user in enumerate(sellers):
                plan.append((user, sellers[(i + 1) % n], 5))
        market = Marketplace(port=self.port)
        threads = market.build(sellers, plan)
        return {
            "counts": counts,
            "sellers": [u.username for u in sellers],
            "warm_up": (warm.username, threads[0].pk),
            "pollers": [(u.username, threads[i + 1].pk) for i, u in enumerate(pollers)],
            "readers": [u.username for u in readers],
            "quiet": len(quiet),
            "listings": [market.listings[u.username].pk for u in sellers],
            "threads": len(threads),
        }

    async def warm_up(self, roles):
        from bench.load_clients import Context, WarmUp

        ctx = Context(f"http://127.0.0.1:{self.port}", self.sink, (0, 0), time.time() + 120, 0)
        name, thread_id = roles["warm_up"]
        for _round in range(3):
            clients = [
                WarmUp(ctx, f"w{i}", name, thread_id, roles["listings"][0])
                for i in range(self.args.workers * 2)
            ]
            await asyncio.gather(*(client.warm() for client in clients))
        if ctx.recorder.errors:
            raise RuntimeError(f"warm-up failed: {ctx.recorder.error_samples}")
        return ctx.recorder.reads

    async def load(self, roles):
        from bench.load_clients import Context, Guest, Poller, Reader, Replier
        from wagtail_messenger.conf import get_setting

        start = time.time()
        ctx = Context(
            f"http://127.0.0.1:{self.port}",
            self.sink,
            self.args.pause,
            start + self.args.seconds,
            self.args.seed,
            # The guest forms' traps stay on: guests take this long to write, as people.
            form_wait=get_setting("FORM_MIN_SECONDS") + 0.2 if get_setting("FORM_TRAPS") else 0,
        )
        clients = [Replier(ctx, f"r{i}", name) for i, name in enumerate(roles["sellers"])]
        clients += [
            Poller(ctx, f"p{i}", name, thread) for i, (name, thread) in enumerate(roles["pollers"])
        ]
        clients += [Reader(ctx, f"d{i}", name) for i, name in enumerate(roles["readers"])]
        clients += [Guest(ctx, f"g{i}", roles["listings"]) for i in range(roles["counts"]["guest"])]
        say(f"{len(clients)} clients for {self.args.seconds:g} s")
        await asyncio.gather(*(client.run() for client in clients))
        ctx.recorder.duration = time.time() - start
        say("load stopped; draining the queue, then the last polls")
        drained = await asyncio.to_thread(self.drain)
        # A thread page left open polls again: what it shows then is all it will show.
        from bench.load_clients import Failed

        for client in clients:
            if isinstance(client, Poller) and client.log is not None:
                with contextlib.suppress(Failed):
                    await client.poll("poll_final")
        for client in clients:
            await client.http.aclose()
        drained = await asyncio.to_thread(self.drain) and drained
        # The sweeper, as a site runs it from cron: whatever a task left pending (an
        # SMTP failure) or leased is sent now; what it sent is reported.
        self.sweep = await asyncio.to_thread(self.run_sweeper)
        drained = await asyncio.to_thread(self.drain) and drained
        return ctx.recorder, drained

    def run_sweeper(self):
        manage = [sys.executable, str(ROOT / "sandbox" / "manage.py")]
        done = subprocess.run(  # noqa: S603
            [*manage, "messenger_send_outbox"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return {"status": done.returncode, "output": (done.stdout + done.stderr).strip()[-500:]}

    def tasks_and_logs(self):
        from django.db import connections
        from django_tasks_db.models import DBTaskResult

        failed = list(
            DBTaskResult.objects.filter(status="FAILED").values_list(
                "task_path", "exception_class_path"
            )
        )
        connections.close_all()
        tracebacks, at_shutdown = {}, {}
        for name in ("gunicorn", *self.task_workers):
            path = self.tmp / f"{name}.log"
            text = path.read_text(errors="replace") if path.exists() else ""
            cut = self.logged_before_stop.get(name, len(text))
            tracebacks[name] = text[:cut].count("Traceback")
            at_shutdown[name] = text[cut:].count("Traceback")
        return {
            "tasks_failed": len(failed),
            "tasks_failed_samples": failed[:5],
            "tracebacks": tracebacks,
            "tracebacks_at_shutdown": at_shutdown,
            "log_tails": {name: self.log_tail(name) for name, count in tracebacks.items() if count},
        }

    def describe(self, roles, drained):
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            postgres = cursor.fetchone()[0]
        import django
        import wagtail

        return {
            "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "clients": self.args.clients,
            "mix": roles["counts"],
            "seconds": self.args.seconds,
            "pause": self.args.pause,
            "workers": self.args.workers,
            "threads": self.args.threads,
            "task_workers": self.args.task_workers,
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "django": django.get_version(),
            "wagtail": wagtail.__version__,
            "postgres": postgres,
            "seeded_threads": roles["threads"],
            "quiet_users": roles["quiet"],
            "drained": drained,
        }

    def cleanup(self):
        self.stop_processes()
        self.sink.stop()
        if self.drop_database is not None:
            self.drop_database()
            self.drop_database = None
        try:
            import redis

            client = redis.Redis.from_url(self.args.redis)
            keys = list(client.scan_iter(match=f"{self.prefix}*", count=1000))
            for start in range(0, len(keys), 500):
                client.delete(*keys[start : start + 500])
        except Exception as error:  # noqa: BLE001 (cleanup: say so and go on)
            print(f"Redis keys under {self.prefix} not deleted: {error}", file=sys.stderr)
        shutil.rmtree(self.tmp, ignore_errors=True)


# -- the report ------------------------------------------------------------------------


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


def request_stats(recorder):
    kinds = {}
    for kind, samples in sorted(recorder.latency.items()):
        statuses = {
            str(status): n for (k, status), n in sorted(recorder.statuses.items()) if k == kind
        }
        kinds[kind] = {
            "count": len(samples),
            "p50_ms": round(percentile(samples, 0.50), 1),
            "p95_ms": round(percentile(samples, 0.95), 1),
            "p99_ms": round(percentile(samples, 0.99), 1),
            "max_ms": round(max(samples), 1),
            "statuses": statuses,
        }
    during = sum(s["count"] for k, s in kinds.items() if k != "poll_final")
    duration = getattr(recorder, "duration", 0) or 1
    errors = {}
    for (_kind, reason), n in sorted(recorder.errors.items()):
        errors.setdefault(str(reason), 0)
        errors[str(reason)] += n
    return {
        "total": during,
        "per_second": round(during / duration, 1),
        "kinds": kinds,
        "errors": errors,
        "error_samples": recorder.error_samples,
        "rate_limited": dict(recorder.rate_limited),
        "guest_link_wait_s": {
            "count": len(recorder.link_waits),
            "p50": round(percentile(recorder.link_waits, 0.5), 2) if recorder.link_waits else None,
            "max": round(max(recorder.link_waits), 2) if recorder.link_waits else None,
        },
    }


def summarise(report, recorder):
    requests = report["requests"]
    errors = sum(requests["errors"].values())
    limited = sum(requests["rate_limited"].values())
    slowest = max((s["p99_ms"] for s in requests["kinds"].values()), default=0)
    failures = {
        "errors": errors,
        "rate_limited": limited,
        "lost": report["lost"],
        "duplicated": report["duplicated"],
        "counters_mismatched": report["counters"]["mismatched"],
        "missed_by_pollers": report["polls"]["missed"],
        "wrong_answers": report["messages"]["wrong_answer"] + report["messages"]["misplaced"],
        "not_visible": report["messages"]["not_visible"],
        "emails_unaccounted": report["emails"]["not_in_ledger"]
        + report["emails"]["unreadable"]
        + report["emails"]["wrong_recipient"]
        + report["emails"]["guest_link_unasked"]
        + report["emails"]["other"],
        "tasks_failed": report["tasks_failed"],
        "tracebacks": sum(report["tracebacks"].values()),
        "client_problems": len(report["problems"]),
        "not_drained": 0 if report["run"]["drained"] else 1,
        "sweeper_failed": 1 if (report.get("sweeper") or {}).get("status") else 0,
    }
    report["failures"] = {k: v for k, v in failures.items() if v}
    report["passed"] = not report["failures"]
    report["p99_worst_ms"] = slowest
    report["latency_target_met"] = slowest <= P99_TARGET_MS


def to_markdown(report):
    run, requests = report["run"], report["requests"]
    messages, counters = report["messages"], report["counters"]
    emails, polls = report["emails"], report["polls"]
    mix = ", ".join(f"{n} {kind}s" for kind, n in run["mix"].items())
    lines = [
        f"#### Load test, {run['when']}",
        "",
        f"`python bench/load.py --clients {run['clients']} --seconds {run['seconds']:g} "
        f"--pause {run['pause'][0]:g}-{run['pause'][1]:g} --workers {run['workers']} "
        f"--threads {run['threads']} --task-workers {run['task_workers']}`: {mix}; "
        f"gunicorn with {run['workers']} "
        + (f"gthread workers of {run['threads']} threads" if run["threads"] > 1 else "sync workers")
        + f", PostgreSQL {run['postgres']}, Redis (cache and "
        f"rate limits), {run['task_workers']} django-tasks-db worker(s), an aiosmtpd sink; "
        f"{run['cpus']} CPUs, "
        f"Python {run['python']}, Django {run['django']}, Wagtail {run['wagtail']}; "
        f"{run['seeded_threads']} seeded threads.",
        "",
        f"**{'PASSED' if report['passed'] else 'FAILED'}**"
        + ("" if report["passed"] else f" ({_pairs(report['failures'])})")
        + f". Throughput {requests['per_second']} requests/s ({requests['total']} requests). "
        f"Worst p99 {report['p99_worst_ms']} ms (target {P99_TARGET_MS} ms: "
        f"{'met' if report['latency_target_met'] else 'not met'}).",
        "",
        "| request | count | p50 ms | p95 ms | p99 ms | max ms | statuses |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for kind, s in requests["kinds"].items():
        lines.append(
            f"| {kind} | {s['count']} | {s['p50_ms']} | {s['p95_ms']} | {s['p99_ms']} | "
            f"{s['max_ms']} | {_pairs(s['statuses'])} |"
        )
    wait = requests["guest_link_wait_s"]
    lines += [
        "",
        f"- Errors (non-2xx/3xx, refused forms, connection failures) by status: "
        f"{_pairs(requests['errors']) or 'none'}. Rate limited (429 or a form saying so, "
        f"a limit of the bench's settings, not counted as errors): "
        f"{_pairs(requests['rate_limited']) or 'none'}.",
        f"- Messages: {messages['told_saved']} told saved ({messages['double_submits']} "
        f"double submits); lost {messages['lost']}, duplicated {messages['duplicated']}, "
        f"answered with another id {messages['wrong_answer']}, in the wrong thread or "
        f"from the wrong sender {messages['misplaced']}, not visible "
        f"{messages['not_visible']}; submits without an answer "
        f"{messages['unanswered_submits']} (saved all the same: "
        f"{messages['unanswered_but_saved']}).",
        f"- Counters: {counters['threads']} threads and {counters['participants']} "
        f"participants recounted; mismatched {counters['mismatched']}"
        + (f" ({_pairs(counters['by_field'])})" if counters["by_field"] else "")
        + ".",
        f"- Emails: {emails['received']} at the sink ({emails['notifications_received']} "
        f"notifications, {emails['guest_links_received']} guest links) to "
        f"{emails['recipients']} addresses (at most {emails['most_to_one_recipient']} to "
        f"one); owed: {emails['owed_ledger']} notifications in the ledger and "
        f"{emails['owed_guest_links']} guest links. Lost {emails['lost']} (ledger rows "
        f"unsent {emails['ledger_unsent']}, sent but not at the sink "
        f"{emails['ledger_not_delivered']}, guest links missing "
        f"{emails['guest_link_missing']}, guest-link outbox rows unsent "
        f"{emails['guest_link_rows_unsent']}), dropped as no longer owed "
        f"{emails['ledger_dropped']}, owed by the rule but never claimed "
        f"{emails['owed_by_rule_not_sent']}; duplicated {emails['duplicated']} (same "
        f"Message-ID {emails['duplicate_message_ids']}, same message twice "
        f"{emails['same_message_twice']}, a second email in one round "
        f"{emails['second_email_in_a_round']}, guest link twice "
        f"{emails['guest_link_twice']}); not in the ledger {emails['not_in_ledger']}, "
        f"wrong recipient {emails['wrong_recipient']}.",
        f"- Polls: {polls['pollers']} pollers, {polls['polls']} polls, "
        f"{polls['expected']} messages to show, missed {polls['missed']}"
        + (f" ({_pairs(polls['missed_because'])})" if polls["missed_because"] else "")
        + f"; {polls['redelivered']} already on the page, not added twice; "
        f"{polls['read_marks']} read marks posted.",
        f"- Guest links reached the sink {wait['p50']} s after the submit (median, "
        f"max {wait['max']} s, {wait['count']} guests). Tasks failed: "
        f"{report['tasks_failed']}; tracebacks in the logs: {_pairs(report['tracebacks'])} "
        f"(while being stopped, not counted: {_pairs(report['tracebacks_at_shutdown'])}); "
        f"the sweeper at the end (`messenger_send_outbox`): "
        f"{((report.get('sweeper') or {}).get('output') or 'not run').rstrip('.')}.",
    ]
    details = (
        messages["lost_tokens"]
        + messages["wrong_answer_samples"]
        + messages["misplaced_samples"]
        + counters["samples"]
        + polls["samples"]
        + report["problems"]
        + requests["error_samples"]
    )
    if details:
        lines += ["", "First findings:", ""]
        lines += [f"- `{str(d)[:200]}`" for d in details[:25]]
    return "\n".join(lines)


def _pairs(mapping):
    return ", ".join(f"{k}: {v}" for k, v in mapping.items())


if __name__ == "__main__":
    sys.exit(main())
