"""System checks (``manage.py check``), each with a stable id and a hint."""

import re

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured

from .conf import get_setting


@register(Tags.compatibility)
def check_installed_apps(app_configs, **kwargs):
    errors = []
    needed = ["wagtail.contrib.settings", "wagtail", "django.contrib.sessions"]
    for app in needed:
        if app not in settings.INSTALLED_APPS:
            errors.append(
                Error(
                    f"wagtail_messenger needs '{app}' in INSTALLED_APPS.",
                    hint=f"Add '{app}' to INSTALLED_APPS.",
                    id="wagtail_messenger.E001",
                )
            )
    return errors


@register(Tags.compatibility)
def check_listing_models(app_configs, **kwargs):
    from django.apps import apps

    errors = []
    for label in get_setting("LISTING_MODELS"):
        try:
            apps.get_model(label)
        except (LookupError, ValueError):
            errors.append(
                Error(
                    f"WAGTAILMESSENGER_LISTING_MODELS names '{label}', which is not a model.",
                    hint="Use 'app_label.ModelName' of a Page subclass.",
                    id="wagtail_messenger.E002",
                )
            )
    return errors


@register(Tags.security)
def check_ratelimit_cache(app_configs, **kwargs):
    alias = get_setting("RATELIMIT_CACHE")
    caches = getattr(settings, "CACHES", {})
    backend = caches.get(alias, {}).get("BACKEND", "django.core.cache.backends.locmem.LocMemCache")
    if alias not in caches and alias != "default":
        return [
            Error(
                f"WAGTAILMESSENGER_RATELIMIT_CACHE is '{alias}', which is not in CACHES.",
                hint="Name a cache alias defined in CACHES.",
                id="wagtail_messenger.E003",
            )
        ]
    if not settings.DEBUG and backend.endswith(("LocMemCache", "DummyCache")):
        return [
            Warning(
                "Guest rate limits are kept in a per-process cache; with several processes "
                "each has its own count, and DummyCache counts nothing.",
                hint="Point WAGTAILMESSENGER_RATELIMIT_CACHE at a shared cache such as Redis.",
                id="wagtail_messenger.W001",
            )
        ]
    return []


HEADER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")


@register(Tags.security)
def check_trusted_proxies(app_configs, **kwargs):
    """The client-IP settings of services/ratelimit.py client_ip (E006, E007, W002)."""
    problems = []
    count = get_setting("TRUSTED_PROXY_COUNT")
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= 20:
        problems.append(
            Error(
                f"WAGTAILMESSENGER_TRUSTED_PROXY_COUNT is {count!r}; it must be a whole "
                "number from 0 to 20.",
                hint="The number of proxies in front of the site that append to "
                "X-Forwarded-For (1 for one load balancer), or 0 for none.",
                id="wagtail_messenger.E006",
            )
        )
    header = get_setting("TRUSTED_CLIENT_IP_HEADER")
    if header is not None and (not isinstance(header, str) or not HEADER_RE.match(header)):
        problems.append(
            Error(
                f"WAGTAILMESSENGER_TRUSTED_CLIENT_IP_HEADER is {header!r}, which is not an "
                "HTTP header name.",
                hint='The header as the proxy sends it, e.g. "CF-Connecting-IP" or '
                '"X-Real-IP" (not "HTTP_X_REAL_IP"), or None.',
                id="wagtail_messenger.E007",
            )
        )
    elif isinstance(header, str) and header.lower() == "x-forwarded-for":
        problems.append(
            Warning(
                "WAGTAILMESSENGER_TRUSTED_CLIENT_IP_HEADER is X-Forwarded-For, whose first "
                "entry any client can write.",
                hint="Set WAGTAILMESSENGER_TRUSTED_PROXY_COUNT instead: X-Forwarded-For is "
                "then read from the right.",
                id="wagtail_messenger.W002",
            )
        )
    return problems


@register(Tags.compatibility)
def check_phone_region(app_configs, **kwargs):
    import phonenumbers

    region = get_setting("PHONE_REGION")
    if region is None or (
        isinstance(region, str) and region.upper() in phonenumbers.SUPPORTED_REGIONS
    ):
        return []
    return [
        Error(
            f"WAGTAILMESSENGER_PHONE_REGION is {region!r}, which is not a region code.",
            hint='A two-letter country code such as "FR" or "US", or None to derive it '
            "from LANGUAGE_CODE.",
            id="wagtail_messenger.E008",
        )
    ]


# -- The plugin's pages in the site's theme (W030-W032) -----------------------------------


@register(Tags.templates)
def check_base_template(app_configs, **kwargs):
    """The plugin's pages go into the content block of the site's base template; when
    they cannot, they fall back to a plain layout of their own, and this says why."""
    from .frontend import layout

    found = layout()
    if found.problem is None:
        return []
    fallback = "the messenger's pages use their own plain layout instead of your theme"
    if found.missing:
        return [
            Warning(
                f"WAGTAILMESSENGER_BASE_TEMPLATE: {found.problem}, so {fallback}.",
                hint="Set WAGTAILMESSENGER_BASE_TEMPLATE to your site's base template.",
                id="wagtail_messenger.W030",
            )
        ]
    has = ", ".join(found.blocks) if found.blocks else "no blocks at all"
    return [
        Warning(
            f"{found.problem[0].upper()}{found.problem[1:]} (it has: {has}), so {fallback}.",
            hint="Set WAGTAILMESSENGER_CONTENT_BLOCK to the block that holds a page's "
            "content, or add {% block content %}{% endblock %} where pages go.",
            id="wagtail_messenger.W031",
        )
    ]


@register(Tags.templates)
def check_button_container(app_configs, **kwargs):
    from .injection import parse_selector

    selector = get_setting("BUTTON_CONTAINER")
    try:
        parse_selector(selector)
    except ValueError as error:
        return [
            Warning(
                f"WAGTAILMESSENGER_BUTTON_CONTAINER: {error}; listing pages get the "
                "floating button instead.",
                hint='Name one element: "main", "#listing", ".card" or "article.card".',
                id="wagtail_messenger.W032",
            )
        ]
    return []


# -- Background tasks and optional dependencies (E004, E005) -----------------------------


@register(Tags.compatibility)
def check_task_backend(app_configs, **kwargs):
    """django-tasks-db 0.13 and later serve Django 6's ``django.tasks``; Wagtail and the
    messenger enqueue through ``django_tasks``, which such a worker cannot run."""
    import django
    from django.utils.module_loading import import_string

    tasks = getattr(settings, "TASKS", {}) or {}
    backend = tasks.get("default", {}).get("BACKEND", "")
    if not backend or django.VERSION < (6,):
        return []
    try:
        from django_tasks.backends.base import BaseTaskBackend

        backend_class = import_string(backend)
    except ImportError:
        return []  # django_tasks reports a backend it cannot import
    if issubclass(backend_class, BaseTaskBackend):
        return []
    return [
        Error(
            f"TASKS['default'] is {backend}, a backend for Django's django.tasks, but Wagtail "
            "and wagtail-messenger queue their tasks with django-tasks: none would run.",
            hint='Install a worker built on django-tasks: pip install "wagtail-messenger[worker]" '
            "(django-tasks-db 0.12).",
            id="wagtail_messenger.E004",
        )
    ]


S3_BACKENDS = ("storages.backends.s3", "wagtail_messenger.storage.PrivateS3Storage")


@register(Tags.compatibility)
def check_s3_extra(app_configs, **kwargs):
    from .storage import s3_available

    alias = get_setting("STORAGE_ALIAS")
    backend = getattr(settings, "STORAGES", {}).get(alias, {}).get("BACKEND", "")
    if not backend.startswith(S3_BACKENDS) or s3_available():
        return []
    return [
        Error(
            f"STORAGES['{alias}'] keeps attachments on S3 ({backend}), but django-storages "
            "and boto3 are not installed.",
            hint='pip install "wagtail-messenger[s3]"',
            id="wagtail_messenger.E005",
        )
    ]


# -- Attachment storage (W010-W017) ------------------------------------------------------

PUBLIC_ACLS = {"public-read", "public-read-write", "authenticated-read"}


def _attachment_storage_warnings(backend, alias):
    """Warnings about one configured attachment storage (see ``check_attachment_storage``)."""
    from pathlib import Path

    from .storage import is_s3

    where = f"STORAGES['{alias}']"
    found = []
    if is_s3(backend):
        from .storage import PrivateS3Storage

        acl = backend.object_parameters.get("ACL") or backend.default_acl
        if acl in PUBLIC_ACLS:
            found.append(
                Warning(
                    f"Attachments are uploaded with the public ACL '{acl}' ({where}).",
                    hint="Set OPTIONS 'default_acl': 'private' and no ACL in object_parameters.",
                    id="wagtail_messenger.W010",
                )
            )
        if not backend.querystring_auth:
            found.append(
                Warning(
                    f"Attachment download URLs are not signed ({where} has "
                    "querystring_auth=False): anybody with the link can fetch the file.",
                    hint="Set OPTIONS 'querystring_auth': True.",
                    id="wagtail_messenger.W011",
                )
            )
        if backend.custom_domain and not backend.cloudfront_signer:
            found.append(
                Warning(
                    f"{where} sets custom_domain '{backend.custom_domain}', which turns "
                    "signed S3 URLs into plain unsigned links.",
                    hint="Remove custom_domain for attachments, or configure CloudFront "
                    "signed URLs (cloudfront_key_id and cloudfront_key).",
                    id="wagtail_messenger.W012",
                )
            )
        if backend.file_overwrite:
            found.append(
                Warning(
                    f"{where} allows overwriting stored files (file_overwrite=True).",
                    hint="Set OPTIONS 'file_overwrite': False.",
                    id="wagtail_messenger.W014",
                )
            )
        disposition = str(backend.object_parameters.get("ContentDisposition", ""))
        if not isinstance(backend, PrivateS3Storage) and not disposition.startswith("attachment"):
            found.append(
                Warning(
                    f"Attachments on S3 ({where}) are stored without "
                    "'Content-Disposition: attachment', so a browser opening a signed "
                    "URL directly may display them inline.",
                    hint="Use 'wagtail_messenger.storage.PrivateS3Storage' as BACKEND, or "
                    "set object_parameters {'ContentDisposition': 'attachment'}.",
                    id="wagtail_messenger.W015",
                )
            )
        budget = get_setting("STORAGE_TIMEOUT")
        config = backend.client_config
        slow = [
            name
            for name in ("connect_timeout", "read_timeout")
            if (getattr(config, name, None) or 60) > budget
        ]
        if slow:
            found.append(
                Warning(
                    f"{where} may wait longer than WAGTAILMESSENGER_STORAGE_TIMEOUT "
                    f"({budget} s) for S3 ({', '.join(slow)}): people get their answer "
                    "on time, but with S3 slow or down each upload that missed it keeps "
                    "one of the few storage threads that long, and later uploads fail.",
                    hint="Use 'wagtail_messenger.storage.PrivateS3Storage' (bounded "
                    "timeouts), or give a client_config with short timeouts.",
                    id="wagtail_messenger.W016",
                )
            )
        default = settings.STORAGES.get("default", {})
        if default.get("BACKEND", "").startswith("storages.backends.s3"):
            options = default.get("OPTIONS", {})
            same_bucket = options.get("bucket_name") == backend.bucket_name
            if same_bucket and (options.get("location") or "") == (backend.location or ""):
                found.append(_shared_with_media(where))
        return found

    location = getattr(backend, "location", None)
    media_root = getattr(settings, "MEDIA_ROOT", "")
    if location and media_root:
        location, media_root = Path(location).resolve(), Path(media_root).resolve()
        if location == media_root or media_root in location.parents:
            found.append(_shared_with_media(where))
    return found


def _shared_with_media(where):
    return Warning(
        f"Attachments ({where}) are stored with the public media files: anybody who "
        "guesses a key may download them without the plugin's access check.",
        hint="Give attachments their own private folder outside MEDIA_ROOT, or their own "
        "private bucket or location.",
        id="wagtail_messenger.W013",
    )


@register(Tags.security)
def check_attachment_storage(app_configs, **kwargs):
    from django.core.files.storage import InvalidStorageError

    from .storage import get_attachment_backend

    alias = get_setting("STORAGE_ALIAS")
    if check_s3_extra(app_configs):
        return []  # E005 says what to install
    try:
        backend = get_attachment_backend()
    except (ImportError, InvalidStorageError, ImproperlyConfigured, TypeError) as error:
        return [
            Warning(
                f"The attachment storage STORAGES['{alias}'] cannot be created: {error}",
                hint="Fix its BACKEND and OPTIONS (see docs/attachments.md).",
                id="wagtail_messenger.W017",
            )
        ]
    return _attachment_storage_warnings(backend, alias)


def _messenger_form_models():
    from wagtail.models import get_page_models

    from .contact_forms import MessengerFormMixin

    return [model for model in get_page_models() if issubclass(model, MessengerFormMixin)]


@register(Tags.models)
def check_contact_form_mixin_order(app_configs, **kwargs):
    """The mixin must come before ``AbstractEmailForm``, or it never runs."""
    return contact_form_mixin_order_warnings(_messenger_form_models())


def contact_form_mixin_order_warnings(models):
    from wagtail.contrib.forms.models import EmailFormMixin

    from .contact_forms import MessengerFormMixin

    warnings = []
    for model in models:
        mro = model.__mro__
        if EmailFormMixin not in mro or mro.index(MessengerFormMixin) > mro.index(EmailFormMixin):
            warnings.append(
                Warning(
                    f"{model._meta.label} uses MessengerFormMixin after AbstractEmailForm "
                    "(or without it), so its submissions are never delivered as messages.",
                    hint=f"Write 'class {model.__name__}(MessengerFormMixin, AbstractEmailForm)'.",
                    obj=model,
                    id="wagtail_messenger.W021",
                )
            )
    return warnings


@register(Tags.database)
def check_contact_form_recipients(app_configs, databases=None, **kwargs):
    """Form pages whose ``to_address`` holds an invalid address (``manage.py check
    --database default`` and ``migrate`` run database checks)."""
    from django.db import DatabaseError

    from .contact_forms import split_addresses

    if not databases:
        return []
    warnings = []
    for model in _messenger_form_models():
        try:
            pages = list(model.objects.exclude(to_address="").only("pk", "title", "to_address"))
        except DatabaseError:  # not migrated yet
            return []
        for page in pages:
            _valid, invalid = split_addresses(page.to_address)
            if invalid:
                warnings.append(
                    Warning(
                        f"Form page “{page.title}” (id {page.pk}) sends to invalid address(es) "
                        f"{', '.join(invalid)}; they get no message, and when no address is "
                        "valid its submissions are emailed instead.",
                        hint="Correct the page's “to address” in the Wagtail admin.",
                        obj=page,
                        id="wagtail_messenger.W020",
                    )
                )
    return warnings


# -- Reply by email (E040, W040) ---------------------------------------------------------

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$", re.I)


@register(Tags.compatibility)
def check_replies(app_configs, **kwargs):
    """Replies by email need a domain that is one, the "email" extra, and a way in."""
    domain = get_setting("REPLY_DOMAIN")
    if not domain:
        return []
    problems = []
    if not _DOMAIN.match(str(domain)):
        problems.append(
            Error(
                f"WAGTAILMESSENGER_REPLY_DOMAIN {domain!r} is not a domain name.",
                hint='A domain whose mail reaches the site, e.g. "reply.example.com".',
                id="wagtail_messenger.E040",
            )
        )
    try:
        import anymail  # noqa: F401
        import mailparser_reply  # noqa: F401
    except ImportError:
        problems.append(
            Error(
                "WAGTAILMESSENGER_REPLY_DOMAIN is set, but the libraries replies by email "
                "need are not installed.",
                hint='pip install "wagtail-messenger[email]"',
                id="wagtail_messenger.E041",
            )
        )
        return problems
    from django.urls import NoReverseMatch, reverse

    try:
        reverse("anymail:postmark_inbound_webhook")
        has_webhook = True
    except NoReverseMatch:
        has_webhook = False
    if not has_webhook and not get_setting("REPLY_IMAP"):
        problems.append(
            Warning(
                "WAGTAILMESSENGER_REPLY_DOMAIN is set, but no way for replies to come in: "
                "the anymail inbound URLs are not in the URLconf and "
                "WAGTAILMESSENGER_REPLY_IMAP is not set.",
                hint='Add path("anymail/", include("anymail.urls")) and point your mail '
                "provider's inbound webhook at it, or set WAGTAILMESSENGER_REPLY_IMAP and "
                "run messenger_fetch_replies from cron (docs/email.md).",
                id="wagtail_messenger.W040",
            )
        )
    return problems


# -- Daily summaries (E042) ----------------------------------------------------------------


@register(Tags.compatibility)
def check_digest_settings(app_configs, **kwargs):
    """The hour and the length of the daily summaries are numbers in range."""
    problems = []
    hour = get_setting("DIGEST_HOUR")
    if isinstance(hour, bool) or not isinstance(hour, int) or not 0 <= hour <= 23:
        problems.append(
            Error(
                f"WAGTAILMESSENGER_DIGEST_HOUR is {hour!r}, not an hour of the day.",
                hint="A whole number from 0 to 23 (the site's TIME_ZONE), e.g. 8.",
                id="wagtail_messenger.E042",
            )
        )
    limit = get_setting("DIGEST_MAX_THREADS")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        problems.append(
            Error(
                f"WAGTAILMESSENGER_DIGEST_MAX_THREADS is {limit!r}.",
                hint="A whole number of conversations, 1 or more, e.g. 20.",
                id="wagtail_messenger.E043",
            )
        )
    return problems
