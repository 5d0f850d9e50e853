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
checked content type on every object, and bounded timeouts without retries so an upload
to a slow or unreachable S3 fails within ``WAGTAILMESSENGER_STORAGE_TIMEOUT``.
"""

from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import FileSystemStorage, Storage, storages

from .conf import get_setting

#: Every attachment key starts with this folder (see ``models.messages.attachment_key``).
KEY_PREFIX = "messenger"


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
    """botocore ``Config`` whose requests give up within ``STORAGE_TIMEOUT``: an upload
    makes two requests (HEAD for no-overwrite, then PUT), each with a quarter of the
    budget to connect and a quarter between bytes read, and no retries."""
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
