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
    # How long a personal data export can be downloaded; then maintenance deletes it.
    "DATA_EXPORT_MAX_AGE": timedelta(days=7),
    # One "download my data" request per person in this period.
    "DATA_EXPORT_INTERVAL": timedelta(hours=1),
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
    # The client's address behind proxies (services/ratelimit.py client_ip): how many
    # proxies append to X-Forwarded-For (the client is that many entries from the
    # right), or a header one trusted proxy sets to the client's address.
    "TRUSTED_PROXY_COUNT": 0,
    "TRUSTED_CLIENT_IP_HEADER": None,
    # Guest forms (compose as a guest, "lost your link?", contact forms): a honeypot
    # field and a signed timestamp; submits faster than FORM_MIN_SECONDS or older than
    # FORM_MAX_AGE are refused (forms.GuestTrapMixin). False turns both off.
    "FORM_TRAPS": True,
    "FORM_MIN_SECONDS": 3,
    "FORM_MAX_AGE": timedelta(days=1),
    # Region for phone numbers written without a country code ("FR", "US"); None
    # derives it from LANGUAGE_CODE ("en-us" -> "US", "fr" -> "FR"), see services/spam.py.
    "PHONE_REGION": None,
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
    # How many times an email of the outbox (notifications, guest links, invitations,
    # moderation alerts) is tried before the sweeper gives up on it.
    "NOTIFICATION_MAX_ATTEMPTS": 5,
    # The wait before the second attempt of a refused email, doubled for each attempt
    # after it (1, 2, 4, 8 minutes by default).
    "EMAIL_RETRY_DELAY": timedelta(minutes=1),
    # How long a worker holds an email it is sending; only after it may another worker
    # (the sweeper) send it again. Keep it well above the SMTP conversation's length
    # (a few times EMAIL_TIMEOUT).
    "EMAIL_LEASE": timedelta(minutes=5),
    # An email task (django-tasks-db) still RUNNING after this long was left by a killed
    # worker: the sweeper queues it again.
    "EMAIL_TASK_STALE_AFTER": timedelta(minutes=15),
    # Sent (and no longer owed) rows of the outbox are deleted this long after they were
    # sent by the maintenance job purge_sent_emails; None keeps them.
    "OUTBOX_RETENTION": timedelta(days=30),
    # Reply by email (docs/email.md): the domain of the notification emails' Reply-To
    # addresses, REPLY_PREFIX+<key>@REPLY_DOMAIN, whose mail reaches the site through
    # django-anymail's inbound webhook or the messenger_fetch_replies command; None
    # leaves replies off (the emails then say to answer on the site).
    "REPLY_DOMAIN": None,
    "REPLY_PREFIX": "reply",
    # Languages whose quoting lines ("On ... wrote:") and signatures are cut from an
    # emailed reply (mail-parser-reply's codes); None: every language it knows.
    "REPLY_QUOTE_LANGUAGES": None,
    # At most this many "your reply was not posted" emails to one address a day, so a
    # misbehaving mail robot never starts a loop.
    "REPLY_REFUSALS_PER_DAY": 3,
    # The mailbox messenger_fetch_replies reads when the site has no inbound webhook:
    # {"HOST": ..., "PORT": 993, "USER": ..., "PASSWORD": ..., "MAILBOX": "INBOX",
    #  "SSL": True, "STARTTLS": False}; the command's options override each key.
    "REPLY_IMAP": None,
    # The JSON API (api.py): requests per person (a user, a guest) and per client
    # address for visitors, as "N/s", "N/m", "N/h" or "N/d"; None: no limit. The
    # message and conversation limits of the site's settings apply besides.
    "API_RATE": "300/m",
    "API_ANONYMOUS_RATE": "30/m",
    # Wagtail's own API tokens (Wagtail 8) never expire: the JSON API accepts one for
    # this long after it was made (its own tokens carry their expiry).
    "API_TOKEN_MAX_AGE": timedelta(days=90),
    # Daily summaries (people who chose "A daily summary" on their preferences page):
    # the outbox's sweeper queues each person's summary once a day, at the first sweep
    # after this hour of the site's TIME_ZONE (0-23).
    "DIGEST_HOUR": 8,
    # At most this many conversations are listed in a summary ("and 3 more").
    "DIGEST_MAX_THREADS": 20,
    # Team inboxes: a message a member of a team (a group) sends shows who wrote it
    # ("Alice for Sales team") to the other participants.
    "SHOW_TEAM_MEMBER": False,
}


def get_setting(name):
    """Return ``WAGTAILMESSENGER_<name>`` or its default; unknown names are a bug."""
    if name not in DEFAULTS:
        raise KeyError(f"Unknown wagtail-messenger setting: {name}")
    return getattr(django_settings, f"WAGTAILMESSENGER_{name}", DEFAULTS[name])
