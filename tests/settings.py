"""Test settings: the sandbox's, with SQLite in memory by default and PostgreSQL when
``DATABASE_URL`` is set (``postgres://postgres@127.0.0.1:5432/messenger``)."""

import os
import tempfile

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
INSTALLED_APPS = [*INSTALLED_APPS, "django_tasks_db"]
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
