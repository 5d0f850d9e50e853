"""Maintenance jobs that keep the database and the attachment storage clean.

Five jobs, each switched on per site in Settings → Messenger → Maintenance (0 = off):

* :func:`purge_inactive_threads`: threads with no message for N days are deleted;
* :func:`purge_attachments`: attachment files older than N days are deleted; the row
  stays with ``expired_at`` set, so the message says the attachment expired;
* :func:`empty_trash`: trash rows older than N days move to the "deleted" folder (that
  person no longer sees the thread), and threads nobody sees any more are deleted;
* :func:`auto_archive`: inbox rows idle for N days move to the archive;
* :func:`close_ended_listings`: conversations of a listing sold, unpublished or deleted
  N days ago are closed (status "ended").

And two for the whole installation, always on: :func:`purge_orphan_files` deletes stored
files no attachment row points to once they are a day old, and :func:`purge_sent_emails`
deletes the outbox's sent rows after ``WAGTAILMESSENGER_OUTBOX_RETENTION`` (30 days).

Threads without a site follow the default site's settings. Every job works in batches of
``WAGTAILMESSENGER_MAINTENANCE_BATCH_SIZE`` ids picked by key (``pk > last``), so memory
and lock time stay bounded whatever the table size. Each batch is re-selected inside its
own transaction with the job's condition checked again, with ``SELECT … FOR UPDATE SKIP
LOCKED`` where the database has it: a reply committed after the ids were picked makes the
thread fail the check, and a reply still being written holds the row, which is skipped.

Files (the crash-safety design). A file is deleted only after a *committed* transaction
marked its row expired, and a row is deleted only once it no longer holds a file key:

1. in the batch transaction the attachment rows get ``expired_at`` (their key stays);
2. after that commit (``transaction.on_commit``) the files are deleted, unless a live
   attachment row still references the same key, and the keys are cleared (``file=""``);
3. only then are threads deleted, in a further transaction that checks everything again.

A crash anywhere leaves rows that are expired but still hold a key; every run starts by
finishing those (deleting a missing file is not an error), so a crash half-way followed
by a rerun ends in the same state as one clean run, with no orphan object in the bucket.
Collecting the keys of deleted rows and deleting them after commit would not survive a
crash between the commit and the storage calls: those keys would be lost for good.

Call the jobs outside any transaction (management command, task, cron): nested inside
an ``atomic`` block, step 2 waits for the outer commit and threads holding files are only
deleted by the next run.
"""

from datetime import timedelta
from itertools import islice

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from ..conf import get_setting
from ..models import Attachment, OutboxEmail, Participant, Thread
from ..storage import get_attachment_backend, stored_files
from . import attachments, digests
from .cleanup import (  # noqa: F401  (resolve_site: part of this module's interface)
    JobResult,
    Run,
    delete_expired_files,
    delete_threads,
    describe_rows,
    describe_threads,
    finish_expired_files,
    holding_files,
    id_batches,
    locked,
    report_progress,
    resolve_site,
    run_job,
    would,
)

Folder = Participant.Folder


# -- the jobs ----------------------------------------------------------------------------
#
# Every job takes the same keyword arguments:
#
# ``site``: a Site, its id or hostname; all sites when omitted.
# ``days``: overrides the per-site period for every site (the bench uses it).
# ``dry_run``: count and list what would change, change nothing.
# ``batch_size``: rows per transaction (default ``MAINTENANCE_BATCH_SIZE``).
# ``progress(line)``: receives a line of text per site and per batch.
# ``checkpoint(stage, batch, ids)``: called between the steps of a batch; tests inject
#   crashes and concurrent replies there.
# ``now``: the reference time (default: now).
#
# Each returns a :class:`JobResult`.


def _delete_threads_in_batches(run, scope, condition):
    """Delete the threads in ``scope`` matching ``condition`` (a ``Q`` or an
    expression), batch by batch; :func:`delete_threads` checks ``condition`` again under
    the row locks. A dry run counts and describes them instead."""
    for ids in id_batches(Thread.objects.filter(scope.q(), condition), run.batch_size):
        run.result.batches += 1
        run.checkpoint("picked", ids)
        if run.dry_run:
            run.result.threads_deleted += len(ids)
            run.result.files_deleted += holding_files().filter(message__thread_id__in=ids).count()
            would(run, [_("delete %(what)s") % {"what": t} for t in describe_threads(ids)])
            continue
        before = run.result.threads_deleted
        delete_threads(run, ids, condition)
        deleted = run.result.threads_deleted - before
        report_progress(run, _("threads deleted"), deleted, run.result.threads_deleted)


def _purge_threads_step(run, scope, cutoff):
    if not run.dry_run:
        finish_expired_files(run, scope)
    doomed = Q(last_message_at__lt=cutoff)
    _delete_threads_in_batches(run, scope, doomed)


def purge_inactive_threads(**options):
    """Delete threads with no message for ``purge_inactive_threads_days``, with their
    messages, participants and files. The bench calls it with ``days`` on a large set and
    reads ``rows_deleted``."""
    return run_job("purge_threads", "purge_inactive_threads_days", _purge_threads_step, **options)


def _purge_attachments_step(run, scope, cutoff):
    finish_expired_files(run, scope)
    old = Q(expired_at__isnull=True, created_at__lt=cutoff)
    candidates = Attachment.objects.filter(scope.q("message__thread__")).filter(old)
    for ids in id_batches(candidates, run.batch_size):
        run.result.batches += 1
        run.checkpoint("picked", ids)
        if run.dry_run:
            run.result.attachments_expired += len(ids)
            run.result.files_deleted += holding_files().filter(pk__in=ids).count()
            rows = Attachment.objects.filter(pk__in=ids).order_by("pk")
            would(
                run,
                [
                    _("expire attachment #%(id)s “%(name)s” of message #%(message)s")
                    % {"id": a.pk, "name": a.name, "message": a.message_id}
                    for a in rows.only("pk", "name", "message_id")
                ],
            )
            continue
        with transaction.atomic():
            expiring = list(
                locked(Attachment.objects.filter(old, pk__in=ids)).values_list("pk", flat=True)
            )
            run.result.attachments_expired += Attachment.objects.filter(pk__in=expiring).update(
                expired_at=run.now
            )
            transaction.on_commit(lambda ids=expiring: delete_expired_files(run, ids))
        run.checkpoint("expired", expiring)
        report_progress(
            run, _("attachments expired"), len(expiring), run.result.attachments_expired
        )


def purge_attachments(**options):
    """Delete attachment files older than ``purge_attachments_days``; the rows stay,
    expired, and the messages say the attachment expired."""
    return run_job(
        "purge_attachments", "purge_attachments_days", _purge_attachments_step, **options
    )


def _move_rows(run, ids, condition, folder):
    """Move the participant rows ``ids`` still matching ``condition`` to ``folder``."""
    with transaction.atomic():
        rows = locked(Participant.objects.filter(condition, pk__in=ids))
        return Participant.objects.filter(pk__in=list(rows.values_list("pk", flat=True))).update(
            folder=folder
        )


def _empty_rows(run, ids, old):
    """Move the trash rows ``ids`` to the "deleted" folder, each only if, under the locks,
    it is still in the trash since before the cutoff (``old``) and nothing reached it
    since it was trashed. The threads' rows are locked first, as a reply locks them
    (``conversations.lock_thread``): a reply being written holds its thread, which is
    skipped; a reply committed meanwhile took its row out of the trash, or moved its
    last message past the trash date."""
    with transaction.atomic():
        thread_ids = Participant.objects.filter(pk__in=ids).values_list("thread_id", flat=True)
        threads = Thread.objects.filter(pk__in=list(thread_ids)).order_by("pk")
        free = list(locked(threads).values_list("pk", flat=True))
        untouched = Q(last_message_at__lte=F("trashed_at"))
        rows = locked(Participant.objects.filter(old, untouched, pk__in=ids, thread_id__in=free))
        return Participant.objects.filter(pk__in=list(rows.values_list("pk", flat=True))).update(
            folder=Folder.DELETED
        )


def _empty_trash_step(run, scope, cutoff):
    if not run.dry_run:
        finish_expired_files(run, scope)
    old = Q(folder=Folder.TRASH, trashed_at__lt=cutoff)
    for ids in id_batches(Participant.objects.filter(scope.q("thread__"), old), run.batch_size):
        run.result.batches += 1
        run.checkpoint("picked", ids)
        if run.dry_run:
            run.result.participants_moved += len(ids)
            template = _("empty thread #%(thread)s “%(title)s” from the trash of %(name)s")
            would(run, describe_rows(ids, template))
            continue
        moved = _empty_rows(run, ids, old)
        run.result.participants_moved += moved
        run.checkpoint("moved", ids)
        report_progress(run, _("trashed threads emptied"), moved, run.result.participants_moved)

    # Threads nobody sees any more go: this run's, and any an interrupted run left.
    live = Participant.objects.filter(thread=OuterRef("pk")).exclude(folder=Folder.DELETED)
    if run.dry_run:
        live = live.exclude(old)
    orphaned = ~Exists(live)
    _delete_threads_in_batches(run, scope, orphaned)


def empty_trash(**options):
    """Empty each person's trash after ``empty_trash_days``: their row moves to the
    "deleted" folder (the thread leaves their lists for good); a thread whose rows are
    all deleted is deleted with its files."""
    return run_job("empty_trash", "empty_trash_days", _empty_trash_step, **options)


def _auto_archive_step(run, scope, cutoff):
    idle = Q(folder=Folder.INBOX, last_message_at__lt=cutoff)
    for ids in id_batches(Participant.objects.filter(scope.q("thread__"), idle), run.batch_size):
        run.result.batches += 1
        run.checkpoint("picked", ids)
        if run.dry_run:
            run.result.participants_moved += len(ids)
            would(run, describe_rows(ids, _("archive thread #%(thread)s “%(title)s” for %(name)s")))
            continue
        moved = _move_rows(run, ids, idle, Folder.ARCHIVE)
        run.result.participants_moved += moved
        report_progress(run, _("threads archived"), moved, run.result.participants_moved)


def auto_archive(**options):
    """Move inbox rows idle for ``auto_archive_days`` to the archive; a new message
    brings a thread back to the inbox."""
    return run_job("auto_archive", "auto_archive_days", _auto_archive_step, **options)


def _close_ended_step(run, scope, cutoff):
    from . import lifecycle

    ended = Q(
        status=Thread.Status.OPEN,
        listing_state__in=lifecycle.ENDED,
        listing_ended_at__lt=cutoff,
    )
    for ids in id_batches(Thread.objects.filter(scope.q(), ended), run.batch_size):
        run.result.batches += 1
        run.checkpoint("picked", ids)
        if run.dry_run:
            run.result.threads_closed += len(ids)
            would(run, [_("close %(thread)s") % {"thread": t} for t in describe_threads(ids)])
            continue
        closed = lifecycle.close_ended(ids, cutoff)
        run.result.threads_closed += closed
        report_progress(run, _("threads closed"), closed, run.result.threads_closed)


def close_ended_listings(**options):
    """Close the conversations of listings sold, unpublished or deleted more than
    ``close_ended_listings_days`` ago: they accept no new message and say why; the
    listing coming back opens them again (``services.lifecycle``)."""
    return run_job(
        "close_ended_listings", "close_ended_listings_days", _close_ended_step, **options
    )


# -- orphan files (the storage is shared by every site: no per-site period) -------------

#: Stored files younger than this are left alone: they may belong to an upload whose
#: message is still being saved.
ORPHAN_MIN_AGE = timedelta(days=1)


def purge_orphan_files(
    *,
    site=None,
    days=None,
    dry_run=False,
    batch_size=None,
    progress=None,
    checkpoint=None,
    now=None,
):
    """Delete stored files no attachment row points to, stored more than a day (or
    ``days``) before ``now``: what an upload left when S3 stored the object but its
    answer never came back in time, or a delete that could not reach the storage.

    Only the plugin's own keys under the storage's ``messenger/`` prefix are looked at
    (:func:`~wagtail_messenger.storage.stored_files`), never anything else in the bucket
    or folder. Works on S3, the local folder and any storage with ``listdir``. Batches
    of ``batch_size`` listed files are checked against the database with one query each.
    Orphans belong to no site: with ``site`` the job does nothing (run it without)."""
    run = Run(
        "purge_orphan_files",
        dry_run=dry_run,
        batch_size=batch_size,
        progress=progress,
        checkpoint=checkpoint,
        now=now,
    )
    if site is not None:
        run.report(_("Orphan files belong to no site: run this job without a site."))
        return run.result
    min_age = timedelta(days=days) if days is not None else ORPHAN_MIN_AGE
    cutoff = run.now - min_age
    run.report(_("Stored files older than %(cutoff)s:") % {"cutoff": f"{cutoff:%Y-%m-%d %H:%M}"})
    backend = get_attachment_backend()
    old = (name for name, modified in stored_files(backend) if modified < cutoff)
    while keys := list(islice(old, run.batch_size)):
        run.result.batches += 1
        run.result.files_checked += len(keys)
        orphans = attachments.unreferenced(keys)
        run.checkpoint("picked", orphans)
        if run.dry_run:
            run.result.files_deleted += len(orphans)
            would(run, [_("delete orphan file %(key)s") % {"key": key} for key in orphans])
            continue
        for key in orphans:
            backend.delete(key)  # a storage error stops the run; the next one goes on
            run.result.files_deleted += 1
        report_progress(run, _("orphan files deleted"), len(orphans), run.result.files_deleted)
    return run.result


# -- the outbox's sent rows (one outbox for every site) ------------------------------------


def purge_sent_emails(
    *,
    site=None,
    days=None,
    dry_run=False,
    batch_size=None,
    progress=None,
    checkpoint=None,
    now=None,
):
    """Delete the outbox rows sent (or no longer owed) more than
    ``WAGTAILMESSENGER_OUTBOX_RETENTION`` (or ``days``) before ``now``: each holds a
    recipient's address, and nothing needs it once delivered. Whether a notification is
    owed is decided by the participants' rounds and the ``Notification`` ledger, not by
    these rows, so deleting them never sends an email again. Rows still pending
    (retried, or given up on for the sweeper's ``--max-attempts``) are kept. The outbox
    belongs to no site: with ``site`` the job does nothing."""
    run = Run(
        "purge_sent_emails",
        dry_run=dry_run,
        batch_size=batch_size,
        progress=progress,
        checkpoint=checkpoint,
        now=now,
    )
    if site is not None:
        run.report(_("The outbox belongs to no site: run this job without a site."))
        return run.result
    keep = timedelta(days=days) if days is not None else get_setting("OUTBOX_RETENTION")
    if keep is None:
        run.report(_("Sent emails are kept (WAGTAILMESSENGER_OUTBOX_RETENTION is None)."))
        return run.result
    cutoff = run.now - keep
    run.report(_("Emails sent before %(cutoff)s:") % {"cutoff": f"{cutoff:%Y-%m-%d %H:%M}"})
    done = [OutboxEmail.State.SENT, OutboxEmail.State.DROPPED]
    old = Q(state__in=done) & (
        Q(sent_at__lt=cutoff) | Q(sent_at__isnull=True, created_at__lt=cutoff)
    )
    for ids in id_batches(OutboxEmail.objects.filter(old), run.batch_size):
        run.result.batches += 1
        run.checkpoint("picked", ids)
        if run.dry_run:
            run.result.rows_deleted += len(ids)
            continue
        # The condition again: a row picked while pending is not deleted.
        deleted, _counts = OutboxEmail.objects.filter(old, pk__in=ids).delete()
        run.result.rows_deleted += deleted
        report_progress(run, _("sent emails deleted"), deleted, run.result.rows_deleted)
    if run.dry_run:
        would(
            run,
            [_("delete %(count)s sent email(s)") % {"count": run.result.rows_deleted}],
        )
    return run.result


def purge_data_exports(*, site=None, dry_run=False, now=None, **_options):
    """Delete personal data exports past their expiry (``DATA_EXPORT_MAX_AGE`` after
    they were built), with their zips. Always on; exports belong to no site."""
    from . import privacy

    result = JobResult(job="purge_data_exports", dry_run=dry_run)
    result.exports_deleted = privacy.purge_expired_exports(now=now, dry_run=dry_run)
    return result


def purge_reply_addresses(*, site=None, dry_run=False, now=None, **_options):
    """Delete reply addresses that expired or were revoked (a reply to them is refused
    all the same: only the hash is kept, and nothing needs it any more). Always on; they
    belong to no site."""
    from django.utils import timezone

    from ..models import ReplyAddress

    result = JobResult(job="purge_reply_addresses", dry_run=dry_run)
    if site is not None:
        return result
    now = now or timezone.now()
    ended = ReplyAddress.objects.filter(Q(expires_at__lte=now) | Q(revoked_at__isnull=False))
    if dry_run:
        result.rows_deleted = ended.count()
        return result
    for ids in id_batches(ended, get_setting("MAINTENANCE_BATCH_SIZE")):
        result.batches += 1
        result.rows_deleted += ReplyAddress.objects.filter(pk__in=ids).delete()[0]
    return result


#: ``name: (label, function)`` in the order :func:`run_all` runs them: deleting first
#: spares the later jobs work.
JOBS = {
    "purge_threads": (gettext_lazy("Delete inactive threads"), purge_inactive_threads),
    "empty_trash": (gettext_lazy("Empty trash"), empty_trash),
    "purge_attachments": (gettext_lazy("Delete old attachments"), purge_attachments),
    "auto_archive": (gettext_lazy("Archive idle threads"), auto_archive),
    "close_ended_listings": (
        gettext_lazy("Close conversations of ended listings"),
        close_ended_listings,
    ),
    "purge_orphan_files": (gettext_lazy("Delete orphan files"), purge_orphan_files),
    "purge_sent_emails": (gettext_lazy("Delete sent emails"), purge_sent_emails),
    "purge_data_exports": (gettext_lazy("Delete expired data exports"), purge_data_exports),
    "purge_reply_addresses": (
        gettext_lazy("Delete expired reply addresses"),
        purge_reply_addresses,
    ),
    # Not a clean-up: run here too so that a site with only the nightly run still sends
    # them (at the first run after DIGEST_HOUR; the outbox's sweeper also runs it).
    "send_digests": (gettext_lazy("Send daily summaries"), digests.send_digests),
}


def run_all(**options):
    """Run the jobs with the same options; returns ``{name: JobResult}``."""
    return {name: function(**options) for name, (_label, function) in JOBS.items()}
