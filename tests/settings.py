"""Test settings: the sandbox's, with SQLite in memory by default, and PostgreSQL or
MariaDB/MySQL when ``DATABASE_URL`` is set (``postgres://postgres@127.0.0.1:5432/messenger``,
``mysql://root@127.0.0.1:3306/messenger`` with ``mysqlclient`` installed)."""

import os
import tempfile
from datetime import timedelta

from sandbox.settings import *  # noqa: F403
from sandbox.settings import INSTALLED_APPS, STORAGES, database_from_env

DEBUG = False
SECRET_KEY = "tests-only"  # noqa: S105
DATABASES = {"default": database_from_env()}
if "DATABASE_URL" not in os.environ:
    DATABASES["default"] = {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
    DATABASES["default"]["TEST"] = {"NAME": ":memory:"}

# A read replica for tests/test_read_replica.py: a mirror of "default" (the same
# database through another connection); used only where a test routes reads to it.
DATABASES["replica"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
# The database queue and its worker, for the test that runs `db_worker` end to end.
INSTALLED_APPS = [*INSTALLED_APPS, "django_tasks_db", "anymail"]
# Replies by email (tests/test_replies.py): the inbound webhooks' basic auth.
ANYMAIL = {
    "WEBHOOK_SECRET": "inbound:tests-only-secret",
    "MAILGUN_WEBHOOK_SIGNING_KEY": "key-tests",
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.mysql":
    # django-tasks-db 0.12's migration 0019 renames a partial index, which MySQL and
    # MariaDB never created, and fails (upstream issue 48, fixed only in the releases
    # built on Django 6's django.tasks). The test database gets that app's table from
    # its models instead; the README says how a site on MySQL gets past it.
    MIGRATION_MODULES = {"django_tasks_database": None}
# A refused email is due again at once, so tests can run the sweeper right after a
# failure; tests/test_outbox.py sets the backoff where it tests it.
WAGTAILMESSENGER_EMAIL_RETRY_DELAY = timedelta(0)
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
ALLOWED_HOSTS = ["*"]
# Inert until a test sets CONTENT_SECURITY_POLICY (the policy is read per response).
MIDDLEWARE = [*MIDDLEWARE, "csp.middleware.CSPMiddleware"]  # noqa: F405

PRIVATE_MEDIA = tempfile.mkdtemp(prefix="messenger-test-private-")
STORAGES = {
    **STORAGES,
    "wagtail_messenger": {
        "BACKEND": "wagtail_messenger.storage.PrivateFileSystemStorage",
        "OPTIONS": {"location": PRIVATE_MEDIA},
    },
}
MEDIA_ROOT = tempfile.mkdtemp(prefix="messenger-test-media-")
WAGTAILADMIN_BASE_URL = "http://testserver"
SILENCED_SYSTEM_CHECKS = ["wagtail_messenger.W001"]
# The guest forms' honeypot and time trap refuse a submit sent within seconds of the
# form, which is what a test client does; tests/test_form_traps.py turns them on.
WAGTAILMESSENGER_FORM_TRAPS = False
