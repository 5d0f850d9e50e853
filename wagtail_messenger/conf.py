"""Code-level settings, read lazily so ``override_settings`` works.

Every setting is a flat ``WAGTAILMESSENGER_<NAME>`` in the project's settings; the
defaults live here once. Editors' per-site toggles are *not* here: they live in
:class:`wagtail_messenger.models.MessengerSettings` (Wagtail's Settings menu).
"""

from datetime import timedelta

from django.conf import settings as django_settings

DEFAULTS = {
    # Page models (``"app_label.ModelName"``) that are listings and get a "Send message"
    # button. Pages can also opt in with ``messenger_is_listing = True``.
    "LISTING_MODELS": [],
    # Django storage alias (``STORAGES``) for attachments; falls back to a private
    # local folder when the alias is not configured.
    "STORAGE_ALIAS": "wagtail_messenger",
    # Private folder used when the storage alias is missing (relative to BASE_DIR).
    "PRIVATE_MEDIA_ROOT": None,
    "MAX_BODY_LENGTH": 5000,
    "PREVIEW_LENGTH": 140,
    # Guest private links.
    "GUEST_LINK_MAX_AGE": timedelta(days=30),
    "INVITATION_MAX_AGE": timedelta(days=30),
    # How long the "stop emails about this conversation" link of an email works.
    "MUTE_LINK_MAX_AGE": timedelta(days=90),
    # Pagination.
    "THREADS_PER_PAGE": 20,
    "MESSAGES_PER_PAGE": 20,  # older ones load on demand ("Older messages")
    # Live updates: how often open thread pages poll, in seconds.
    "POLL_INTERVAL": 5,
    # Cache alias that holds rate-limit counters; must be shared by all processes.
    "RATELIMIT_CACHE": "default",
    # Dotted path to the spam filter class (see services/spam.py).
    "SPAM_FILTER": "wagtail_messenger.services.spam.ScoringSpamFilter",
    # The URL a seller without an account is sent to for registering; None means the
    # Wagtail login view.
    "SIGNUP_URL": None,
    # The site's base template the plugin's own pages extend, and the block of it that
    # holds a page's content (None: the first of frontend.CONTENT_BLOCKS it has).
    "BASE_TEMPLATE": "base.html",
    "CONTENT_BLOCK": None,
    # Where the automatic "Send message" button goes: inside the first element matching
    # this simple selector ("main", "#id", ".class", "tag.class"), after its content.
    # Pages without one get a floating button.
    "BUTTON_CONTAINER": "main",
    # The cache that keeps rendered inbox rows and messages (wagtail_messenger.fragments),
    # and for how long; 0 renders them on every page.
    "FRAGMENT_CACHE": "default",
    "FRAGMENT_CACHE_SECONDS": 24 * 3600,
    # Scheme and host of links in emails ("https://www.example.com"); None uses the
    # Wagtail Site's root URL.
    "BASE_URL": None,
    # Maintenance jobs delete at most this many rows per transaction.
    "MAINTENANCE_BATCH_SIZE": 500,
    # Signed URL lifetime (seconds) for attachment downloads from S3.
    "ATTACHMENT_URL_EXPIRY": 60,
    # Seconds an S3 upload may take before the form returns with an error.
    "STORAGE_TIMEOUT": 10,
    # How many times a notification email is tried before the retry command gives up.
    "NOTIFICATION_MAX_ATTEMPTS": 5,
}


def get_setting(name):
    """Return ``WAGTAILMESSENGER_<name>`` or its default; unknown names are a bug."""
    if name not in DEFAULTS:
        raise KeyError(f"Unknown wagtail-messenger setting: {name}")
    return getattr(django_settings, f"WAGTAILMESSENGER_{name}", DEFAULTS[name])
