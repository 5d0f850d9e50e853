"""Benchmark settings: the sandbox's full middleware stack (database sessions, CSRF,
auth, messages), a database chosen by ``BENCH_DATABASE_URL`` (SQLite file by default),
tasks queued but not run (the reply must not send mail inside the request)."""

import os
import tempfile

from sandbox.settings import *  # noqa: F403
from sandbox.settings import INSTALLED_APPS

DEBUG = False
ALLOWED_HOSTS = ["*"]
ROOT_URLCONF = "bench.urls"
SESSION_ENGINE = "django.contrib.sessions.backends.db"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
if os.environ.get("BENCH_REDIS_URL"):  # bench/run.py --redis
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["BENCH_REDIS_URL"],
            # Nothing left from an earlier run; bench/load.py gives all the processes
            # of one run (web workers, task worker) the same prefix.
            "KEY_PREFIX": os.environ.get("BENCH_CACHE_PREFIX") or f"wm-bench-{os.getpid()}",
        }
    }
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "ERROR"}}
INSTALLED_APPS = [*INSTALLED_APPS]
SILENCED_SYSTEM_CHECKS = ["wagtail_messenger.W001"]
PRIVATE = os.environ.get("BENCH_PRIVATE") or tempfile.mkdtemp(prefix="messenger-bench-")
WAGTAILMESSENGER_PRIVATE_MEDIA_ROOT = PRIVATE

_url = os.environ.get("BENCH_DATABASE_URL", "")
if _url:
    import dj_database_url

    DATABASES = {"default": dj_database_url.parse(_url, conn_max_age=600)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("BENCH_SQLITE", os.path.join(PRIVATE, "bench.sqlite3")),
        }
    }
