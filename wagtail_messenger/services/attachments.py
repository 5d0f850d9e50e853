"""Attachments: validation by content and private storage.

Interface used by the views (kept stable for them)::

    with attachments.stored_upload(uploaded_file, conf) as upload:
        conversations.post_message(..., upload=upload)

``stored_upload`` validates the file (raising ``AttachmentRejected`` with a reason a
person understands), writes it to the private storage under a server-generated key, and
yields an object whose ``attachment_fields()`` the service layer saves. If anything fails
inside the block, the stored object is deleted again: no message points to a missing
file and no orphan file is left behind. With no file it yields ``None``.

A stored object that ends up without an ``Attachment`` row (the block ended without
saving one, e.g. a double submit answered by the earlier message) is deleted too. When a
delete cannot reach the storage, the key is logged and :func:`orphaned_keys` finds it
later: every key lives under ``messenger/`` and is known to the database or is an orphan.

Validation lives in :mod:`.file_checks` (:func:`check_upload`, re-exported here).
"""

import logging
import posixpath
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from django.core.files.base import File
from django.db import transaction
from django.utils import timezone
from django.utils.http import content_disposition_header

from ..exceptions import StorageUnavailable
from ..models.messages import Attachment, attachment_key
from ..storage import (
    KEY_PREFIX,
    attachment_storage,
    get_attachment_backend,
    is_s3,
    storage_errors,
)
from .file_checks import (  # noqa: F401  (the service's interface, used by views and tests)
    CHUNK_SIZE,
    CheckedFile,
    accepted_extensions,
    accepted_sentence,
    check_upload,
    clean_name,
)

logger = logging.getLogger(__name__)

# -- storing -----------------------------------------------------------------------------


@dataclass
class StoredUpload:
    key: str
    name: str
    content_type: str
    size: int

    def attachment_fields(self):
        return {
            "file": self.key,
            "name": self.name,
            "content_type": self.content_type,
            "size": self.size,
        }


class _CheckedContent(File):
    """The uploaded file as the storage receives it: ``content_type`` is what the bytes
    are (not what the browser claimed); ``content_disposition`` makes S3 serve it as a
    download (see :class:`~wagtail_messenger.storage.PrivateS3Storage`)."""

    def __init__(self, file, name, checked):
        super().__init__(file, name=name)
        self.content_type = checked.content_type
        self.content_disposition = content_disposition_header(True, checked.name)


def store(uploaded_file, checked):
    """Write a checked file under a new server-generated key; return the key.

    Storage failures (S3 down or slow past ``WAGTAILMESSENGER_STORAGE_TIMEOUT``, a full
    disk) raise :class:`StorageUnavailable`.
    """
    backend = get_attachment_backend()
    key = attachment_key(None, checked.name)
    content = _CheckedContent(getattr(uploaded_file, "file", uploaded_file), key, checked)
    try:
        saved = backend.save(key, content)
    except storage_errors() as error:
        logger.warning("Attachment storage failed: %r", error)
        if not is_s3(backend):
            # A partial local write, if any. (An S3 PUT is all or nothing, and a delete
            # would make the person wait a second timeout.)
            delete_files([key])
        raise StorageUnavailable()
    return saved


@contextmanager
def stored_upload(uploaded_file, conf):
    if not uploaded_file:
        yield None
        return
    checked = check_upload(uploaded_file, conf)
    key = store(uploaded_file, checked)
    upload = StoredUpload(
        key=key, name=checked.name, content_type=checked.content_type, size=checked.size
    )
    try:
        yield upload
    except BaseException:
        delete_files([key])
        raise
    if not Attachment.objects.filter(file=key).exists():
        # Nothing saved a row for it (e.g. a double submit answered by the first one).
        delete_files([key])


# -- deleting ----------------------------------------------------------------------------


def delete_files(keys):
    """Delete stored objects now. A failure is logged, not raised: the object stays an
    orphan that :func:`orphaned_keys` finds on the next maintenance run."""
    keys = [k for k in keys if k]
    if not keys:
        return
    backend = get_attachment_backend()
    for key in keys:
        try:
            backend.delete(key)
        except storage_errors() as error:
            logger.warning("Could not delete attachment %s (kept as an orphan): %r", key, error)


def delete_files_after_commit(keys):
    """Delete stored objects once the current transaction commits (at once outside one).
    Use it wherever rows pointing at files are deleted or files are expired. A key that
    a live (not expired) attachment row still points to when the commit happens is kept.
    """
    keys = [str(k) for k in keys if k]
    if keys:
        transaction.on_commit(lambda: _delete_unreferenced(keys), robust=True)


def _delete_unreferenced(keys):
    live = Attachment.objects.filter(file__in=keys, expired_at__isnull=True)
    in_use = set(live.values_list("file", flat=True))
    delete_files([k for k in keys if k not in in_use])


def orphaned_keys(min_age=timedelta(days=1)):
    """Stored keys no ``Attachment`` row points to, older than ``min_age`` (younger ones
    may belong to an upload still in progress). Yields keys; lists the storage under
    ``messenger/`` month by month."""
    backend = get_attachment_backend()
    cutoff = timezone.now() - min_age
    try:
        years, _files = backend.listdir(KEY_PREFIX)
    except FileNotFoundError:  # nothing stored yet (local folder)
        return
    for year in sorted(years):
        months, _files = backend.listdir(posixpath.join(KEY_PREFIX, year))
        for month in sorted(months):
            folder = posixpath.join(KEY_PREFIX, year, month)
            _dirs, files = backend.listdir(folder)
            keys = [posixpath.join(folder, f) for f in files]
            known = set(Attachment.objects.filter(file__in=keys).values_list("file", flat=True))
            for key in keys:
                if key not in known and backend.get_modified_time(key) < cutoff:
                    yield key


__all__ = [
    "Attachment",
    "CheckedFile",
    "StoredUpload",
    "accepted_sentence",
    "attachment_storage",
    "check_upload",
    "clean_name",
    "delete_files",
    "delete_files_after_commit",
    "orphaned_keys",
    "stored_upload",
]
