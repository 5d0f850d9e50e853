"""The private storage attachments live in.

``STORAGES["wagtail_messenger"]`` (alias configurable with
``WAGTAILMESSENGER_STORAGE_ALIAS``) is used when a project defines it, e.g. an S3 bucket
through django-storages. Otherwise files go to a private local folder that is *not*
``MEDIA_ROOT`` and has no public URL: they are only served by the plugin's download view.

The model field holds a :class:`AttachmentStorage` proxy that looks the real storage up on
every call, so a project (or a test) can change ``STORAGES`` without the field keeping a
stale instance.
"""

from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, storages

from .conf import get_setting


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
