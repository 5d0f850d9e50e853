"""Checking an uploaded file by its content, before it is stored (:mod:`.attachments`).

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
import re
import unicodedata
import warnings
from dataclasses import dataclass

from django.utils.translation import gettext as _

from ..exceptions import AttachmentRejected
from ..models.settings import SAFE_EXTENSIONS

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
