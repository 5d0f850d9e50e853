"""Settings of the load test (``bench/load.py``): ``bench.settings`` with what a
production site runs, shared by every process of one run (the web workers, the task
worker and the load script itself):

- PostgreSQL, named by ``BENCH_DATABASE_URL``;
- Redis as the cache and, under its own key prefix, as the rate-limit cache
  (``BENCH_REDIS_URL``, ``BENCH_CACHE_PREFIX``);
- the database task queue of django-tasks-db, run by ``manage.py db_worker``;
- email through SMTP to the run's sink on ``127.0.0.1:BENCH_SMTP_PORT``, with links
  built from ``BENCH_BASE_URL`` (the gunicorn address).

Rate limits: the per-site guest limits are set by the seed (``bench/data.py``,
``Marketplace.configure``) well above what the load sends, since every simulated guest
comes from 127.0.0.1. A limit the load runs into answers 429 (or a form that says so),
which the report counts apart from errors: it is this file's or the seed's business to
raise it, not a fault of the code under test.
"""

import os

from bench.settings import *  # noqa: F403
from bench.settings import CACHES, INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "django_tasks_db"]
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = "127.0.0.1"
EMAIL_PORT = int(os.environ.get("BENCH_SMTP_PORT", "1025"))
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = "Load Marketplace <noreply@example.com>"

if "RedisCache" in CACHES["default"]["BACKEND"]:
    CACHES = {
        **CACHES,
        "ratelimit": {**CACHES["default"], "KEY_PREFIX": CACHES["default"]["KEY_PREFIX"] + "-rl"},
    }
    WAGTAILMESSENGER_RATELIMIT_CACHE = "ratelimit"

WAGTAILMESSENGER_BASE_URL = os.environ.get("BENCH_BASE_URL") or None
# Errors (a 500's traceback, a failed task) go to stderr: the web workers' and the task
# worker's logs, which bench/load.py prints the end of when something failed.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["stderr"], "level": "WARNING"},
}
