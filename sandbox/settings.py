"""Settings of the demo marketplace: SQLite, local files, immediate tasks, console email.

Everything here is what a site owner adds to an existing Wagtail project, marked
``# wagtail-messenger``; the rest is a plain ``wagtail start`` project.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "demo-only-not-secret")  # noqa: S105
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

INSTALLED_APPS = [
    "sandbox.marketplace",
    "wagtail_messenger",  # wagtail-messenger
    "ninja",  # the JSON API's interactive docs, from local static files (docs/api.md)
    "wagtail.contrib.settings",  # wagtail-messenger: the settings panel
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    "django_tasks",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
]

ROOT_URLCONF = "sandbox.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "wagtail.contrib.settings.context_processors.settings",
            ],
        },
    },
]

WSGI_APPLICATION = None


def database_from_env():
    """SQLite, or the database ``DATABASE_URL`` names: ``postgres://…`` or, for MySQL and
    MariaDB (with the ``[mysql]`` extra), ``mysql://root@127.0.0.1:3306/messenger``."""
    url = os.environ.get("DATABASE_URL")
    if url:
        import dj_database_url

        database = dj_database_url.parse(url, conn_max_age=60)
        if database["ENGINE"] == "django.db.backends.mysql":
            # Four-byte UTF-8 (emoji in messages), for the connection and for the test
            # database pytest-django creates (``test_<name>``) whatever the server's
            # default character set is. The collation stays the server's default for
            # that set, the connection's too: a test database in another one fails on
            # comparisons of a column with a cast (Wagtail's migrations make some).
            database.setdefault("OPTIONS", {}).setdefault("charset", "utf8mb4")
            database["TEST"] = {"CHARSET": "utf8mb4"}
        return database
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / "db.sqlite3"}


DATABASES = {"default": database_from_env()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = BASE_DIR / "media"

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    # wagtail-messenger: attachments in a private folder outside MEDIA_ROOT.
    "wagtail_messenger": {
        "BACKEND": "wagtail_messenger.storage.PrivateFileSystemStorage",
        "OPTIONS": {"location": BASE_DIR / "private-media"},
    },
}

# wagtail-messenger: background work. The demo sends at once; production runs a worker.
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}

EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = "Demo Marketplace <noreply@example.com>"

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/messages/"
LOGOUT_REDIRECT_URL = "/"
WAGTAIL_FRONTEND_LOGIN_URL = LOGIN_URL

WAGTAIL_SITE_NAME = "Demo Marketplace"
WAGTAILADMIN_BASE_URL = "http://127.0.0.1:8000"

# wagtail-messenger: which page types are listings (they get the "Send message" button).
WAGTAILMESSENGER_LISTING_MODELS = ["marketplace.ListingPage"]
WAGTAILMESSENGER_SIGNUP_URL = "/accounts/signup/"
