"""A person's rights over their messenger data (GDPR articles 15, 17 and 20).

* **Access and portability**: :func:`request_export` owes a zip of the person's
  conversations (``conversations.json``, ``.html`` and ``.txt``, and the attachments they
  sent), built in the background by the ``build_data_export`` task
  (:func:`build_export`) into the private storage. The person gets the link by email
  (the outbox) and on their preferences page; only they may download it, for
  ``WAGTAILMESSENGER_DATA_EXPORT_MAX_AGE`` (7 days); :func:`purge_expired_exports`
  (maintenance) deletes it then. One request per ``DATA_EXPORT_INTERVAL`` (an hour).
  Moderators can produce the same for anybody in the admin (audit-logged).
* **Erasure without cascading**: :func:`erase_person` anonymises the person's
  participant rows ("Deleted user", no email, no account), deletes their attachments
  (and files), their private links, exports and proven addresses, and clears their
  address from the outbox. The other party's history stays readable: the messages the
  person wrote keep their text unless the site's ``erase_removes_messages`` is on.
"""

import io
import json
import posixpath
import re
import shutil
import tempfile
import zipfile
from dataclasses import asdict, dataclass

from django.core.files.base import File
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import queue
from ..actors import normalise_email
from ..conf import get_setting
from ..emails import absolute_url, render_mail, render_text
from ..exceptions import NotAllowed, RateLimited
from ..models import (
    AccessToken,
    Attachment,
    DataExport,
    Message,
    OutboxEmail,
    Participant,
    ProvenAddress,
    ReplyAddress,
)
from . import access, outbox
from .settings import for_site, for_site_id

#: What an erased person's rows keep as their name (shown as the translated "Deleted
#: user" through ``PersonDisplay.is_deleted_user``).
DELETED_NAME = "Deleted user"

#: Audit log action of an export produced in the admin.
ADMIN_EXPORT = "wagtail_messenger.data_export"


# -- whose rows ----------------------------------------------------------------------------


def own_rows(*, user=None, email=""):
    """The participant rows that are this person's own (an account's rows, or a guest's
    confirmed rows; team rows belong to the team and are not one member's)."""
    if user is not None:
        return Participant.objects.filter(user=user)
    email = normalise_email(email)
    if not email:
        return Participant.objects.none()
    return Participant.objects.filter(kind=Participant.Kind.GUEST, email=email, email_verified=True)


def rows_to_erase(*, user=None, email=""):
    """Every row that names the person: an account's rows, or every row without an
    account that carries the address (guest rows, confirmed or not, and invitations)."""
    if user is not None:
        return Participant.objects.filter(user=user)
    email = normalise_email(email)
    if not email:
        return Participant.objects.none()
    return Participant.objects.filter(user__isnull=True, group__isnull=True, email=email)


# -- export ----------------------------------------------------------------------------------


def request_export(*, user=None, email="", requested_by=None):
    """Owe the person an export (built after commit). Raises :class:`RateLimited` when
    the person asked within ``DATA_EXPORT_INTERVAL`` (exports produced by moderators
    are not limited)."""
    email = normalise_email(email)
    if user is None and not email:
        raise NotAllowed()
    now = timezone.now()
    with transaction.atomic():
        if requested_by is None:
            interval = get_setting("DATA_EXPORT_INTERVAL")
            latest = (
                DataExport.objects.of_person(user=user, email=email)
                .filter(created_at__gt=now - interval)
                .order_by("-created_at")
                .first()
            )
            if latest is not None:
                wait = (latest.created_at + interval - now).total_seconds()
                raise RateLimited(
                    _("You asked for your data a short while ago. Please try again later."),
                    retry_after=max(int(wait), 1),
                )
        export = DataExport.objects.create(
            user=user,
            email="" if user is not None else email,
            requested_by=requested_by,
            created_at=now,
            expires_at=now + get_setting("DATA_EXPORT_MAX_AGE"),
        )
        queue.after_commit("build_data_export", export.pk)
    return export


def page_context(*, user=None, email=""):
    """What the "Your data" section shows (preferences page, guests' "Your data")."""
    return {
        "exports": latest_exports(user=user, email=email),
        "export_days": get_setting("DATA_EXPORT_MAX_AGE").days,
        "is_guest": user is None,
    }


def latest_exports(*, user=None, email=""):
    """The person's own exports that can still be downloaded or are being prepared."""
    return (
        DataExport.objects.of_person(user=user, email=normalise_email(email))
        .filter(expires_at__gt=timezone.now())
        .exclude(state=DataExport.State.FAILED)
        .order_by("-created_at")
    )


def is_owner(export, *, user=None, guest_email=""):
    """Whether the person asking may download ``export``: the person it is of when they
    asked for it themselves, the moderator who produced it otherwise."""
    if export.requested_by_id is not None:
        return user is not None and user.pk == export.requested_by_id
    if user is not None:
        return export.user_id == user.pk
    return export.user_id is None and bool(guest_email) and export.email == guest_email


def safe_filename(name):
    """A file name for inside the zip: no folders, no control characters."""
    name = posixpath.basename(str(name).replace("\\", "/"))
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip(". ")
    return name[:100] or "file"


def collect(*, user=None, email=""):
    """``(data, files)``: the export's content and ``[(zip path, Attachment)]`` of the
    attachments the person sent."""
    rows = list(own_rows(user=user, email=email).select_related("thread").order_by("thread_id"))
    threads, files = [], []
    for row in rows:
        thread = row.thread
        messages = (
            Message.objects.seen_by(row, access.blocked_since(row))
            .select_related("sender", "attachment")
            .order_by("created_at", "id")
        )
        people = thread.participants.order_by("pk")
        entries = []
        for message in messages:
            note = message.is_note  # the site's words about the listing, nobody's
            mine = not note and message.sender_id == row.pk
            shown = mine or message.state == Message.State.VISIBLE
            entry = {
                "id": message.pk,
                "kind": message.kind,
                "sent_at": message.created_at.isoformat(),
                "sender": "" if note else str(message.sender.display_name),
                "mine": mine,
                "state": message.state,
                "text": message.body if shown else "",
                "attachment": None,
            }
            attachment = getattr(message, "attachment", None) if shown else None
            if attachment is not None:
                included = mine and bool(attachment.file) and not attachment.is_expired
                path = f"attachments/{message.pk}-{safe_filename(attachment.name)}"
                entry["attachment"] = {
                    "name": attachment.name,
                    "content_type": attachment.content_type,
                    "size": attachment.size,
                    "expired": attachment.is_expired,
                    "file": path if included else None,
                }
                if included:
                    files.append((path, attachment))
            entries.append(entry)
        threads.append(
            {
                "id": thread.pk,
                "title": str(thread.title),
                "listing_url": thread.listing_url,
                "status": thread.status,
                "started_at": thread.created_at.isoformat(),
                "you": {"name": row.name, "email": row.email, "folder": row.folder},
                "people": [str(p.display_name) for p in people],
                "messages": entries,
            }
        )
    data = {
        "generated_at": timezone.now().isoformat(),
        "person": {
            "account": user.get_username() if user is not None else None,
            "email": (user.email if user is not None else normalise_email(email)) or None,
        },
        "conversations": threads,
    }
    return data, files


#: Zips up to this size are built in memory; larger ones spill to a temporary file.
SPOOL_BYTES = 16 * 1024 * 1024


def build_zip(data, files, buffer):
    """Write the zip into ``buffer`` (a temporary file) and rewind it: attachments are
    copied in chunks, so a long history with large files is not held in memory."""
    context = {"data": data, "conversations": data["conversations"]}
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("conversations.json", json.dumps(data, indent=2, ensure_ascii=False))
        archive.writestr(
            "conversations.html",
            render_to_string("wagtail_messenger/privacy/export.html", context),
        )
        archive.writestr(
            "conversations.txt", render_text("wagtail_messenger/privacy/export.txt", context)
        )
        for path, attachment in files:
            try:
                with attachment.file.open("rb") as handle, archive.open(path, "w") as target:
                    shutil.copyfileobj(handle, target, 1024 * 1024)
            except FileNotFoundError:  # deleted meanwhile (maintenance)
                continue
    buffer.seek(0)


def build_export(export_id):
    """The ``build_data_export`` task: build the zip, store it privately and owe the
    person the email with its link. Idempotent: a built export is left as it is."""
    export = DataExport.objects.filter(pk=export_id).select_related("user").first()
    if export is None or export.state != DataExport.State.PENDING:
        return False
    data, files = collect(user=export.user, email=export.email)
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as content:
        build_zip(data, files, content)
        size = content.seek(0, io.SEEK_END)
        content.seek(0)
        export.file.save("export.zip", File(content), save=False)
    now = timezone.now()
    with transaction.atomic():
        won = DataExport.objects.filter(pk=export.pk, state=DataExport.State.PENDING).update(
            state=DataExport.State.READY,
            file=export.file.name,
            size=size,
            ready_at=now,
            expires_at=now + get_setting("DATA_EXPORT_MAX_AGE"),
        )
        if not won:  # another worker finished it first
            export.file.storage.delete(export.file.name)
            return False
        address = export.user.email if export.user is not None else export.email
        if export.requested_by_id is None and address:
            row = outbox.add(
                OutboxEmail.Kind.DATA_EXPORT,
                f"data_export:{export.pk}",
                recipient=address,
                export=export.pk,
            )
            outbox.send_on_commit(row)
    return True


def download_url(export):
    return reverse("wagtail_messenger:data_export", args=[export.pk])


def render_export_email(row):
    """The "your data is ready" email of the outbox ``row``; ``None`` once the export
    expired or went (nothing is sent)."""
    export = DataExport.objects.filter(pk=row.params.get("export")).first()
    if export is None or not export.is_ready:
        return None
    conf = for_site()
    return render_mail(
        "data_export",
        {
            "url": absolute_url(download_url(export)),
            "export": export,
            "expires_at": export.expires_at,
            "guest": export.user_id is None,
            "site_name": getattr(conf.site, "site_name", "") if conf.site_id else "",
        },
        to=row.recipient,
    )


def delete_export_files_after_commit(keys):
    keys = [str(k) for k in keys if k]
    if keys:
        transaction.on_commit(lambda: _delete_keys(keys), robust=True)


def _delete_keys(keys):
    from ..storage import get_attachment_backend

    backend = get_attachment_backend()
    for key in keys:
        backend.delete(key)


def purge_expired_exports(now=None, dry_run=False):
    """Delete exports past their expiry, with their files (maintenance). Returns how
    many."""
    expired = DataExport.objects.expired(now)
    if dry_run:
        return expired.count()
    count = 0
    for export in expired.iterator():
        with transaction.atomic():
            export.delete()  # the post_delete handler deletes the file after commit
        count += 1
    return count


# -- erasure ------------------------------------------------------------------------------------


@dataclass
class Erasure:
    participants: int = 0
    threads: int = 0
    attachments: int = 0
    messages_blanked: int = 0
    messages_kept: int = 0
    outbox_emails: int = 0
    links: int = 0
    exports: int = 0

    def as_dict(self):
        return asdict(self)


def _addresses(user, email, rows):
    found = {normalise_email(email)} if email else set()
    if user is not None and user.email:
        found.add(normalise_email(user.email))
    found.update(normalise_email(e) for e in rows.exclude(email="").values_list("email", flat=True))
    found.discard("")
    return found


def erase_person(*, user=None, email="", dry_run=False, removes_messages=None):
    """Erase a person without deleting anybody else's history (see the module's
    docstring). ``removes_messages`` overrides the site setting (``None``: each
    thread's site decides). Returns an :class:`Erasure` (what was, or with ``dry_run``
    would be, done)."""
    email = normalise_email(email)
    rows = rows_to_erase(user=user, email=email)
    result = Erasure()
    with transaction.atomic():
        addresses = _addresses(user, email, rows)
        row_ids = list(rows.values_list("pk", flat=True))
        result.participants = len(row_ids)
        result.threads = len(set(rows.values_list("thread_id", flat=True)))
        # Listing notes are the site's words, not the person's: they stay.
        sent = Message.objects.filter(sender_id__in=row_ids, kind=Message.Kind.MESSAGE)
        attachments = Attachment.objects.filter(message__sender_id__in=row_ids)
        result.attachments = attachments.count()
        blank_ids, sites = [], {}
        for message_id, site_id in sent.values_list("pk", "thread__site_id"):
            removes = removes_messages
            if removes is None:
                if site_id not in sites:
                    sites[site_id] = for_site_id(site_id).erase_removes_messages
                removes = sites[site_id]
            if removes:
                blank_ids.append(message_id)
        result.messages_blanked = len(blank_ids)
        result.messages_kept = sent.count() - len(blank_ids)
        mail = (
            OutboxEmail.objects.filter(Q(recipient__in=addresses) | Q(params__email__in=addresses))
            if addresses
            else OutboxEmail.objects.none()
        )
        result.outbox_emails = mail.count()
        links = AccessToken.objects.filter(email__in=addresses)
        result.links = links.count()
        exports = (
            DataExport.objects.filter(user=user)
            if user is not None
            else DataExport.objects.filter(user__isnull=True, email=email)
        )
        result.exports = exports.count()
        if dry_run:
            transaction.set_rollback(True)
            return result
        for attachment in attachments:
            attachment.delete()  # post_delete deletes the file after commit
        Message.objects.filter(pk__in=blank_ids).update(
            body="", data={}, state=Message.State.REMOVED, moderation_reason=""
        )
        Participant.objects.filter(pk__in=row_ids).update(
            user=None, name=DELETED_NAME, email="", email_verified=True, muted=True
        )
        mail.filter(state=OutboxEmail.State.PENDING).update(state=OutboxEmail.State.DROPPED)
        mail.update(recipient="", params={})
        links.delete()
        ReplyAddress.objects.filter(participant_id__in=row_ids).delete()
        for export in exports:
            export.delete()
        if user is not None:
            ProvenAddress.objects.filter(user=user).delete()
    return result


def erase_guest_confirmed(email):
    """A guest's own erase request, confirmed through their link (the session proved
    the address)."""
    email = normalise_email(email)
    if not email:
        raise NotAllowed()
    return erase_person(email=email)


def erase_deleted_user(user):
    """``pre_delete`` of an account: anonymise before the rows lose their user."""
    if user.pk is None:
        return None
    return erase_person(user=user)
