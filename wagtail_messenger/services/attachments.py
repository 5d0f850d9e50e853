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
saving one, e.g. a double submit answered by the earlier message) is deleted too. The
storage calls of one ``stored_upload`` share one wall-clock deadline
(``WAGTAILMESSENGER_STORAGE_TIMEOUT``, :mod:`wagtail_messenger.deadlines`): a slow or
trickling S3 makes the block raise ``StorageUnavailable`` on time, before any row is
written, and an upload that completes after the deadline deletes its object again.
When a delete cannot reach the storage (or S3 stored an object and went dark before
answering), the key is logged and :func:`orphaned_keys` finds it later: every key lives
under ``messenger/`` and is known to the database or is an orphan, which the
maintenance job ``purge_orphan_files`` deletes after a day.

Validation lives in :mod:`.file_checks` (:func:`check_upload`, re-exported here).
"""

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from itertools import islice

from django.core.files.base import File
from django.db import transaction
from django.utils import timezone
from django.utils.http import content_disposition_header

from ..deadlines import Deadline, StorageTimeout
from ..exceptions import StorageUnavailable
from ..models.messages import Attachment, attachment_key
from ..storage import (
    attachment_storage,
    get_attachment_backend,
    is_s3,
    storage_errors,
    stored_files,
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


def store(uploaded_file, checked, deadline=None):
    """Write a checked file under a new server-generated key; return the key.

    The whole write (the no-overwrite check and the upload) must end within
    ``deadline`` (a :class:`~wagtail_messenger.deadlines.Deadline`, by default a new one
    of ``WAGTAILMESSENGER_STORAGE_TIMEOUT`` seconds). Storage failures (S3 down, slow or
    trickling past the deadline, a full disk) raise :class:`StorageUnavailable`. An
    upload that finishes after the deadline deletes its object again.
    """
    backend = get_attachment_backend()
    deadline = deadline or Deadline()
    key = attachment_key(None, checked.name)
    content = _CheckedContent(getattr(uploaded_file, "file", uploaded_file), key, checked)

    def undo_late(saved, error):
        # The person was told nothing was stored: make it true. (A failed write may
        # have stored the object all the same; if this delete fails too, the orphan
        # sweep removes it after a day.)
        delete_files([saved or key], backend=backend)

    try:
        saved = deadline.run(backend.save, key, content, on_late=undo_late)
    except storage_errors() as error:
        logger.warning("Attachment storage failed: %r", error)
        if not is_s3(backend) and not isinstance(error, StorageTimeout):
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
    deadline = Deadline()
    key = store(uploaded_file, checked, deadline)
    upload = StoredUpload(
        key=key, name=checked.name, content_type=checked.content_type, size=checked.size
    )
    try:
        yield upload
    except BaseException:
        delete_files([key], deadline=deadline)
        raise
    if not Attachment.objects.filter(file=key).exists():
        # Nothing saved a row for it (e.g. a double submit answered by the first one).
        delete_files([key], deadline=deadline)


# -- deleting ----------------------------------------------------------------------------


def delete_files(keys, deadline=None, backend=None):
    """Delete stored objects now (from ``backend``, by default the configured storage).
    A failure is logged, not raised: the object stays an orphan that the maintenance
    job ``purge_orphan_files`` deletes after a day. With a ``deadline`` (a person is
    waiting) the deletes give up when it passes and go on in the background."""
    keys = [k for k in keys if k]
    if not keys:
        return
    backend = backend or get_attachment_backend()
    for key in keys:
        try:
            if deadline is None:
                backend.delete(key)
            else:
                deadline.run(backend.delete, key, on_late=_log_late_delete(key))
        except StorageTimeout:
            logger.info("Deleting attachment %s goes on in the background", key)
        except storage_errors() as error:
            logger.warning("Could not delete attachment %s (kept as an orphan): %r", key, error)


def _log_late_delete(key):
    def log(_result, error):
        if error is not None:
            logger.warning("Could not delete attachment %s (kept as an orphan): %r", key, error)

    return log


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


def unreferenced(keys):
    """The ``keys`` no attachment row points to (expired rows still holding a key count
    as pointing to it), in their order; one query."""
    known = set(Attachment.objects.filter(file__in=keys).values_list("file", flat=True))
    return [key for key in keys if key not in known]


def orphaned_keys(min_age=timedelta(days=1), now=None):
    """Stored keys no ``Attachment`` row points to, stored before ``now - min_age``
    (younger ones may belong to an upload still in progress). Yields keys, checking
    them against the database 500 at a time; only keys of the plugin's own shape
    under ``messenger/`` are listed (:func:`~wagtail_messenger.storage.stored_files`).
    The maintenance job ``purge_orphan_files`` deletes them."""
    cutoff = (now or timezone.now()) - min_age
    old = (name for name, modified in stored_files(get_attachment_backend()) if modified < cutoff)
    while batch := list(islice(old, 500)):
        yield from unreferenced(batch)


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
    "unreferenced",
]
