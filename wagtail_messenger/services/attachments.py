"""Attachments: validation by content and private storage.

Interface used by the views (kept stable for them)::

    with attachments.stored_upload(uploaded_file, conf) as upload:
        conversations.post_message(..., upload=upload)

``stored_upload`` validates the file (raising ``AttachmentRejected`` with a reason a
person understands), writes it to the private storage under a server-generated key, and
yields an object whose ``attachment_fields()`` the service layer saves. If anything fails
inside the block, the stored object is deleted again: no message points to a missing
file and no orphan file is left behind. With no file it yields ``None``.
"""

from contextlib import contextmanager
from dataclasses import dataclass

from ..models.messages import Attachment, attachment_key
from ..storage import attachment_storage


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


@contextmanager
def stored_upload(uploaded_file, conf):
    if not uploaded_file:
        yield None
        return
    storage = attachment_storage()
    key = storage.save(attachment_key(None, uploaded_file.name), uploaded_file)
    upload = StoredUpload(
        key=key,
        name=uploaded_file.name[:255],
        content_type=getattr(uploaded_file, "content_type", "") or "application/octet-stream",
        size=uploaded_file.size,
    )
    try:
        yield upload
    except BaseException:
        storage.delete(key)
        raise


__all__ = ["Attachment", "StoredUpload", "stored_upload"]
