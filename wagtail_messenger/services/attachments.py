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

Validation (:func:`check_upload`) reads the file once, in chunks, and refuses:

- files when attachments are off for the site, and extensions the site does not allow
  (the widest list is :data:`~wagtail_messenger.models.settings.SAFE_EXTENSIONS`);
- empty files and files over the site's limit (counted while reading);
- content whose magic bytes are not the type its extension names (HTML renamed
  ``.pdf``, an SVG renamed ``.png``, a PDF whose header is not at byte 0);
- web page or script markup anywhere in the file (``<script``, ``<html``, ``<svg``...),
  which catches polyglots such as a JPEG carrying HTML in a comment;
- images Pillow cannot read or whose pixel count exceeds ``Image.MAX_IMAGE_PIXELS``
  (decompression bombs), and text files that are not UTF-8.
"""

import codecs
import logging
import posixpath
import re
import unicodedata
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from django.core.files.base import File
from django.db import transaction
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _

from ..exceptions import AttachmentRejected, StorageUnavailable
from ..models.messages import Attachment, attachment_key
from ..models.settings import SAFE_EXTENSIONS
from ..storage import (
    KEY_PREFIX,
    attachment_storage,
    get_attachment_backend,
    is_s3,
    storage_errors,
)

logger = logging.getLogger(__name__)

CHUNK_SIZE = 64 * 1024
MAX_NAME_LENGTH = 120

#: What each allowed extension must contain: (kind, stored content type).
KINDS = {
    "jpg": "jpeg",
    "jpeg": "jpeg",
    "png": "png",
    "gif": "gif",
    "webp": "webp",
    "pdf": "pdf",
    "txt": "text",
}
CONTENT_TYPES = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "webp": "image/webp",
    "pdf": "application/pdf",
    "text": "text/plain; charset=utf-8",
}
IMAGE_FORMATS = {"jpeg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WEBP"}
LABELS = {"jpg": "JPG", "jpeg": "JPG", "png": "PNG", "gif": "GIF", "webp": "WebP"}
LABELS.update({"pdf": "PDF", "txt": "TXT"})

# Markup a browser (or a viewer that guesses) would treat as a web page or script. Found
# anywhere in the file, case-insensitively, it refuses the file whatever its extension.
ACTIVE_MARKERS = (
    b"<script",
    b"<html",
    b"<!doctype html",
    b"<svg",
    b"<iframe",
    b"<object",
    b"<embed",
    b"<body",
    b"<?php",
    b"<%@",
)
_OVERLAP = max(len(m) for m in ACTIVE_MARKERS) - 1


def sniff(head):
    """The kind of file the first bytes announce, or ``None``."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"%PDF-"):
        return "pdf"
    return None


def accepted_extensions(conf):
    """The site's allowed extensions, never wider than ``SAFE_EXTENSIONS``."""
    return [e for e in conf.extension_list if e in SAFE_EXTENSIONS and e in KINDS]


def accepted_sentence(conf):
    """``"PDF, JPG and PNG up to 5 MB are accepted."`` for the site's settings."""
    labels = list(dict.fromkeys(LABELS[e] for e in accepted_extensions(conf)))
    if not labels:
        return _("No file types are accepted on this site.")
    if len(labels) == 1:
        kinds = labels[0]
    else:
        kinds = _("%(first)s and %(last)s") % {
            "first": ", ".join(labels[:-1]),
            "last": labels[-1],
        }
    return _("%(kinds)s up to %(mb)d MB are accepted.") % {
        "kinds": kinds,
        "mb": conf.max_attachment_mb,
    }


def refuse(reason, conf):
    """:class:`AttachmentRejected` saying why, then what is accepted."""
    return AttachmentRejected(f"{reason} {accepted_sentence(conf)}")


_UNSAFE_NAME_CHARS = re.compile(r'[<>:"|?*\\/]')


def clean_name(name):
    """A display name: no directories, control or bidi-override characters, not too long.

    The name is shown to people and put in ``Content-Disposition``; it is never part of
    a storage key.
    """
    name = unicodedata.normalize("NFC", str(name or ""))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    # Cc: control characters; Cf: format characters (RTL override, zero-width...).
    name = "".join(c for c in name if unicodedata.category(c) not in {"Cc", "Cf", "Cs", "Co"})
    name = _UNSAFE_NAME_CHARS.sub("_", name)
    name = " ".join(name.split())
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    ext = ext.strip(" .")[:10]
    room = MAX_NAME_LENGTH - (len(ext) + 1 if ext else 0)
    stem = stem[:room].strip(" .") or _("attachment")
    return f"{stem}.{ext}" if ext else stem


def extension_of(name):
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem else ""


@dataclass
class CheckedFile:
    name: str
    extension: str
    kind: str
    content_type: str
    size: int


def check_upload(uploaded_file, conf):
    """Validate ``uploaded_file`` for the site ``conf``; return a :class:`CheckedFile` or
    raise :class:`AttachmentRejected`. Reads the file once, in chunks."""
    if not conf.attachments_enabled:
        raise AttachmentRejected(_("Attachments are turned off on this site."))
    name = clean_name(getattr(uploaded_file, "name", ""))
    extension = extension_of(name)
    allowed = accepted_extensions(conf)
    if not extension:
        raise refuse(_("The file name has no extension."), conf)
    if extension not in allowed:
        raise refuse(
            _("Files ending in .%(ext)s cannot be attached.") % {"ext": extension[:10]}, conf
        )
    limit = conf.max_attachment_bytes
    too_large = _("The file is larger than %(mb)d MB.") % {"mb": conf.max_attachment_mb}
    declared = getattr(uploaded_file, "size", None)
    if declared is not None and declared > limit:
        raise refuse(too_large, conf)

    kind = KINDS[extension]
    size, head, tail = 0, b"", b""
    decoder = codecs.getincrementaldecoder("utf-8")() if kind == "text" else None
    uploaded_file.seek(0)
    for chunk in uploaded_file.chunks(CHUNK_SIZE):
        size += len(chunk)
        if size > limit:
            raise refuse(too_large, conf)
        if len(head) < 64:
            head = (head + chunk)[:64]
        window = (tail + chunk).lower()
        if any(marker in window for marker in ACTIVE_MARKERS):
            raise refuse(_("The file contains web page or script code."), conf)
        tail = window[-_OVERLAP:]
        if decoder is not None:
            _check_text_chunk(decoder, chunk, conf)
    if size == 0:
        raise refuse(_("The file is empty."), conf)
    if decoder is not None:
        _check_text_chunk(decoder, b"", conf, final=True)

    found = sniff(head)
    label = LABELS[extension]
    if kind == "text":
        if found is not None:
            raise refuse(
                _("The file is not plain text although its name ends in .%(ext)s.")
                % {"ext": extension},
                conf,
            )
    elif found != kind:
        raise refuse(
            _("The file's content is not %(label)s although its name ends in .%(ext)s.")
            % {"label": label, "ext": extension},
            conf,
        )
    if kind in IMAGE_FORMATS:
        _check_image(uploaded_file, kind, conf)
    uploaded_file.seek(0)
    return CheckedFile(
        name=name,
        extension=extension,
        kind=kind,
        content_type=CONTENT_TYPES[kind],
        size=size,
    )


def _check_text_chunk(decoder, chunk, conf, final=False):
    try:
        text = decoder.decode(chunk, final=final)
    except UnicodeDecodeError:
        raise refuse(_("The text file is not UTF-8 text."), conf)
    if any(unicodedata.category(c) == "Cc" and c not in "\t\n\r\f" for c in text):
        raise refuse(_("The text file contains binary data."), conf)


def _check_image(uploaded_file, kind, conf):
    from PIL import Image

    uploaded_file.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(uploaded_file) as image:
                width, height = image.size
                if image.format != IMAGE_FORMATS[kind]:
                    raise ValueError(image.format)
                if width * height > Image.MAX_IMAGE_PIXELS:
                    raise Image.DecompressionBombError(f"{width}x{height}")
                image.verify()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise refuse(_("The image has too many pixels."), conf)
    except Exception:  # Pillow raises many types for broken files
        raise refuse(_("The image is damaged or incomplete."), conf)


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
