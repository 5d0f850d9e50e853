"""Settings of the worker processes tests/test_outbox_faults.py starts and kills: the
test settings, on the test database (``DATABASE_URL``), with django-tasks-db's queue and
the test's SMTP server (``WM_SMTP_PORT``), and a short lease (``WM_EMAIL_LEASE``)."""

import os
from datetime import timedelta

from tests.settings import *  # noqa: F403

EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = "127.0.0.1"
EMAIL_PORT = int(os.environ["WM_SMTP_PORT"])
EMAIL_TIMEOUT = 5
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
WAGTAILMESSENGER_EMAIL_LEASE = timedelta(seconds=float(os.environ.get("WM_EMAIL_LEASE", "300")))
