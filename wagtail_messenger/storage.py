"""The private storage attachments live in.

``STORAGES["wagtail_messenger"]`` (alias configurable with
``WAGTAILMESSENGER_STORAGE_ALIAS``) is used when a project defines it, e.g. an S3 bucket
through django-storages. Otherwise files go to a private local folder that is *not*
``MEDIA_ROOT`` and has no public URL: they are only served by the plugin's download view.

The model field holds a :class:`AttachmentStorage` proxy that looks the real storage up on
every call, so a project (or a test) can change ``STORAGES`` without the field keeping a
stale instance.

For S3, :class:`PrivateS3Storage` is django-storages' ``S3Storage`` with safe defaults:
private objects, signed URLs, no overwrite, ``Content-Disposition: attachment`` and the
checked content type on every object, and short socket timeouts without retries. The
budget a person waits, ``WAGTAILMESSENGER_STORAGE_TIMEOUT``, is a wall-clock deadline
kept by :mod:`wagtail_messenger.deadlines` (socket timeouts alone do not bound a request
whose answer trickles in); the socket timeouts end the call in the background soon after.

:func:`stored_files` lists what the plugin stored (for the orphan sweep of maintenance):
only keys under ``messenger/`` of the shape the plugin writes, never anything else in
the bucket or folder.
"""

import os
import posixpath
import re
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.utils import timezone

from .conf import get_setting

#: Every attachment key starts with this folder (see ``models.messages.attachment_key``).
KEY_PREFIX = "messenger"

#: The keys the plugin writes: ``messenger/YYYY/MM/<32 hex>``, with the suffix Django's
#: ``get_available_name`` would add on a clash. Anything else is not the plugin's.
KEY_PATTERN = re.compile(r"messenger/\d{4}/\d{2}/[0-9a-f]{32}(_[0-9A-Za-z]{7})?")


def private_media_root():
    root = get_setting("PRIVATE_MEDIA_ROOT")
    if root:
        return Path(root)
    base = Path(getattr(settings, "BASE_DIR", Path.cwd()))
    return base / "private-media"


class PrivateFileSystemStorage(FileSystemStorage):
    """Local storage with no public URL: files are streamed by the download view."""

    def url(self, name):
        raise NotImplementedError("Attachments are served by wagtail_messenger's download view.")


def s3_available():
    """Whether the ``[s3]`` extra (django-storages with boto3) is installed."""
    try:
        from storages.backends.s3 import S3Storage  # noqa: F401
    except (ImportError, ImproperlyConfigured):  # storages says so when boto3 is missing
        return False
    return True


def storage_errors():
    """Exceptions that mean "the storage could not do it" (not a bug in our code)."""
    errors = [OSError]
    if not s3_available():
        return tuple(errors)
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    return (*errors, BotoCoreError, ClientError, Boto3Error)


def is_s3(backend):
    if not s3_available():
        return False
    from storages.backends.s3 import S3Storage

    return isinstance(backend, S3Storage)


def bounded_client_config(base=None):
    """botocore ``Config`` with a quarter of ``STORAGE_TIMEOUT`` to connect and a quarter
    between bytes read, and no retries. These bound each socket operation only (an
    answer trickling in never waits that long between bytes): the budget of the whole
    upload is the deadline of :mod:`wagtail_messenger.deadlines`; these end a call that
    missed it in the background soon after S3 goes silent."""
    from botocore.config import Config

    budget = float(get_setting("STORAGE_TIMEOUT"))
    bounded = Config(
        connect_timeout=max(budget / 4, 0.1),
        read_timeout=max(budget / 4, 0.1),
        retries={"max_attempts": 1, "mode": "standard"},
    )
    return base.merge(bounded) if base is not None else bounded


if s3_available():
    from storages.backends.s3 import S3Storage as _S3Storage

    class PrivateS3Storage(_S3Storage):
        """``S3Storage`` for private attachments.

        Defaults that differ from django-storages (OPTIONS may still change them, and
        the system checks warn when they do): ``default_acl="private"``,
        ``querystring_auth=True``, ``file_overwrite=False``, a bounded client config.
        Global ``AWS_*`` settings meant for public media do not leak in for these.
        """

        default_acl = "private"
        querystring_auth = True
        file_overwrite = False
        custom_domain = None

        def __init__(self, **options):
            own_config = "client_config" in options
            super().__init__(**options)
            if not own_config:
                self.client_config = bounded_client_config(self.client_config)

        def _get_write_parameters(self, name, content=None):
            params = super()._get_write_parameters(name, content)
            params["ContentDisposition"] = getattr(content, "content_disposition", "attachment")
            content_type = getattr(content, "content_type", None)
            if content_type:
                params["ContentType"] = content_type
            params.setdefault("ACL", "private")
            return params


def __getattr__(name):
    # ``PrivateS3Storage`` named in STORAGES without the [s3] extra: say what to install.
    if name == "PrivateS3Storage":
        from .exceptions import MissingExtra

        raise MissingExtra("Attachments on S3", "s3")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def stored_files(backend):
    """Yield ``(name, modified)`` for every file the plugin may have stored in
    ``backend``: names under ``messenger/`` matching :data:`KEY_PATTERN`, ``modified``
    an aware datetime. S3 is listed 1,000 keys a request with their dates; a local
    folder is walked; any other storage goes through ``listdir`` and
    ``get_modified_time``."""
    if is_s3(backend):
        yield from _s3_files(backend)
    elif isinstance(backend, FileSystemStorage):
        yield from _local_files(backend)
    else:
        yield from _listed_files(backend, KEY_PREFIX)


def _s3_files(backend):
    location = backend.location.strip("/")
    base = f"{location}/" if location else ""
    client = backend.connection.meta.client
    pages = client.get_paginator("list_objects_v2").paginate(
        Bucket=backend.bucket_name, Prefix=f"{base}{KEY_PREFIX}/"
    )
    for page in pages:
        for entry in page.get("Contents", ()):
            name = entry["Key"][len(base) :]
            if KEY_PATTERN.fullmatch(name):
                yield name, entry["LastModified"]


def _local_files(backend):
    root = Path(backend.location) / KEY_PREFIX
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        relative = Path(folder).relative_to(backend.location).as_posix()
        for file in sorted(files):
            name = posixpath.join(relative, file)
            if KEY_PATTERN.fullmatch(name):
                try:
                    stamp = os.stat(os.path.join(folder, file)).st_mtime
                except FileNotFoundError:  # deleted meanwhile
                    continue
                yield name, datetime.fromtimestamp(stamp, tz=UTC)


def _listed_files(backend, folder):
    try:
        dirs, files = backend.listdir(folder)
    except FileNotFoundError:
        return
    for file in sorted(files):
        name = posixpath.join(folder, file)
        if KEY_PATTERN.fullmatch(name):
            modified = backend.get_modified_time(name)
            if timezone.is_naive(modified):  # USE_TZ = False: local time
                modified = timezone.make_aware(modified)
            yield name, modified
    for sub in sorted(dirs):
        yield from _listed_files(backend, posixpath.join(folder, sub))


def get_attachment_backend():
    alias = get_setting("STORAGE_ALIAS")
    if alias in getattr(settings, "STORAGES", {}):
        return storages[alias]
    return PrivateFileSystemStorage(location=private_media_root(), base_url=None)


def _delegate(name):
    def method(self, *args, **kwargs):
        return getattr(get_attachment_backend(), name)(*args, **kwargs)

    method.__name__ = name
    return method


class AttachmentStorage(Storage):
    """Forwards every call to the storage configured *now*."""

    for _name in (
        "open",
        "save",
        "delete",
        "exists",
        "size",
        "url",
        "path",
        "listdir",
        "get_valid_name",
        "get_available_name",
        "generate_filename",
        "get_alternative_name",
        "get_accessed_time",
        "get_created_time",
        "get_modified_time",
    ):
        locals()[_name] = _delegate(_name)
    del _name

    def __getattr__(self, name):
        return getattr(get_attachment_backend(), name)


_attachment_storage = AttachmentStorage()


def attachment_storage():
    """Callable given to ``Attachment.file`` (keeps migrations free of settings)."""
    return _attachment_storage
