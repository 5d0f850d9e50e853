"""Maintenance jobs that keep the database and the attachment storage clean.

Four jobs, each switched on per site in Settings → Messenger → Maintenance (0 = off):

* :func:`purge_inactive_threads`: threads with no message for N days are deleted;
* :func:`purge_attachments`: attachment files older than N days are deleted; the row
  stays with ``expired_at`` set, so the message says the attachment expired;
* :func:`empty_trash`: trash rows older than N days move to the "deleted" folder (that
  person no longer sees the thread), and threads nobody sees any more are deleted;
* :func:`auto_archive`: inbox rows idle for N days move to the archive.

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

import dataclasses
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from wagtail.models import Site

from ..conf import get_setting
from ..models import Attachment, MessengerSettings, Participant, Thread
from ..storage import attachment_storage
from . import locks

Folder = Participant.Folder


@dataclass
class JobResult:
    """Totals of one job run (over all the sites it covered)."""

    job: str
    dry_run: bool = False
    sites: int = 0
    batches: int = 0
    threads_deleted: int = 0
    attachments_expired: int = 0
    files_deleted: int = 0
    participants_moved: int = 0
    #: Every database row deleted, cascades (messages, participants, …) included.
    rows_deleted: int = 0

    def as_dict(self):
        return dataclasses.asdict(self)


@dataclass
class Scope:
    """One site, its settings, and whether site-less threads follow it."""

    site: Site | None
    conf: MessengerSettings
    includes_siteless: bool

    def q(self, prefix=""):
        if self.site is None:
            return Q(**{f"{prefix}site__isnull": True})
        q = Q(**{f"{prefix}site": self.site})
        if self.includes_siteless:
            q |= Q(**{f"{prefix}site__isnull": True})
        return q

    def __str__(self):
        return str(self.site) if self.site is not None else _("threads without a site")


class Run:
    """Options and reporting shared by the steps of one job run."""

    def __init__(self, job, *, dry_run, batch_size, progress, checkpoint, now):
        self.result = JobResult(job=job, dry_run=dry_run)
        self.dry_run = dry_run
        self.batch_size = batch_size or get_setting("MAINTENANCE_BATCH_SIZE")
        self.now = now or timezone.now()
        self._progress = progress
        self._checkpoint = checkpoint

    def report(self, line):
        if self._progress is not None:
            self._progress(line)

    def checkpoint(self, stage, ids):
        """Test and instrumentation hook: ``checkpoint(stage, batch_number, ids)``."""
        if self._checkpoint is not None:
            self._checkpoint(stage, self.result.batches, ids)


# -- sites -------------------------------------------------------------------------------


def resolve_site(value):
    """A ``Site`` from an instance, an id, or a hostname (``--site``)."""
    if value is None or isinstance(value, Site):
        return value
    value = str(value).strip()
    if value.isdigit():
        site = Site.objects.filter(pk=int(value)).first()
    else:
        hostname, _sep, port = value.partition(":")
        sites = Site.objects.filter(hostname=hostname)
        if port.isdigit():
            sites = sites.filter(port=int(port))
        found = list(sites[:2])
        if len(found) > 1:
            raise Site.DoesNotExist(
                _("Several sites use %(host)s: give the port or the site id.") % {"host": value}
            )
        site = found[0] if found else None
    if site is None:
        raise Site.DoesNotExist(_("No site matches %(value)s.") % {"value": value})
    return site


def scopes(site=None):
    """The sites a job covers, each with its settings. Threads whose site is empty (or
    was deleted) follow the default site."""
    default = Site.objects.filter(is_default_site=True).first() or Site.objects.first()
    if default is None:
        if site is None:
            yield Scope(None, MessengerSettings(), includes_siteless=True)
        return
    for each in [resolve_site(site)] if site is not None else Site.objects.order_by("pk"):
        yield Scope(each, MessengerSettings.for_site(each), each.pk == default.pk)


# -- building blocks ---------------------------------------------------------------------


def id_batches(queryset, size):
    """Yield lists of at most ``size`` primary keys, walking the key (never an offset, and
    never the whole table in memory). Rows changed by earlier batches are not revisited."""
    last = 0
    while True:
        ids = list(queryset.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:size])
        if not ids:
            return
        yield ids
        last = ids[-1]


def locked(queryset):
    """``SELECT … FOR UPDATE``, skipping rows another transaction holds (a reply being
    written) where the database can (:func:`.locks.locked`)."""
    return locks.locked(queryset, skip_locked=True)


def holding_files():
    """Attachment rows that still hold a storage key."""
    return Attachment.objects.exclude(file="")


def delete_expired_files(run, attachment_ids):
    """Step 2: delete the files of these rows, which a committed transaction marked
    expired, then clear their keys. A key that a live (not expired) attachment row still
    references keeps its file. Idempotent: a missing file is not an error."""
    rows = list(
        holding_files()
        .filter(pk__in=attachment_ids, expired_at__isnull=False)
        .values_list("pk", "file")
    )
    if not rows:
        return
    run.checkpoint("committed", attachment_ids)
    keys = {key for _pk, key in rows}
    in_use = set(
        Attachment.objects.filter(file__in=keys, expired_at__isnull=True).values_list(
            "file", flat=True
        )
    )
    storage = attachment_storage()
    for key in sorted(keys - in_use):
        storage.delete(key)
        run.result.files_deleted += 1
    run.checkpoint("files deleted", attachment_ids)
    with transaction.atomic():
        Attachment.objects.filter(pk__in=[pk for pk, _key in rows]).exclude(
            expired_at__isnull=True
        ).update(file="")


def finish_expired_files(run, scope):
    """Finish what an interrupted run left: expired rows whose file is still stored."""
    pending = holding_files().filter(scope.q("message__thread__"), expired_at__isnull=False)
    for ids in id_batches(pending, run.batch_size):
        if run.dry_run:
            run.result.files_deleted += len(ids)
            continue
        delete_expired_files(run, ids)


def _expire_files_of(run, thread_ids):
    """Step 1 for threads about to go: mark their file-holding attachments expired and
    have the files deleted after commit. Returns the ids of the threads holding files."""
    rows = holding_files().filter(message__thread_id__in=thread_ids)
    pairs = list(rows.values_list("pk", "message__thread_id"))
    if not pairs:
        return set()
    ids = [pk for pk, _thread in pairs]
    run.result.attachments_expired += Attachment.objects.filter(
        pk__in=ids, expired_at__isnull=True
    ).update(expired_at=run.now)
    transaction.on_commit(lambda: delete_expired_files(run, ids))
    return {thread for _pk, thread in pairs}


def _delete(run, thread_ids):
    if not thread_ids:
        return
    total, per_model = Thread.objects.filter(pk__in=thread_ids).delete()
    run.result.rows_deleted += total
    run.result.threads_deleted += per_model.get(Thread._meta.label, 0)


def delete_threads(run, ids, doomed):
    """Delete the threads ``ids`` that still match ``doomed`` (a ``Q`` on Thread), files
    first (see the module docstring)."""
    with transaction.atomic():
        ids = list(locked(Thread.objects.filter(doomed, pk__in=ids)).values_list("pk", flat=True))
        with_files = _expire_files_of(run, ids)
        _delete(run, [pk for pk in ids if pk not in with_files])
    run.checkpoint("expired", ids)
    if not with_files:
        return
    # The files are gone now (on_commit ran at the end of the block above): check
    # everything again, since a reply may have arrived meanwhile.
    files_left = holding_files().filter(message__thread=OuterRef("pk"))
    with transaction.atomic():
        still = locked(Thread.objects.filter(doomed, pk__in=with_files).filter(~Exists(files_left)))
        _delete(run, list(still.values_list("pk", flat=True)))


def _describe_threads(ids):
    rows = Thread.objects.filter(pk__in=ids).order_by("pk")
    return [
        _("thread #%(id)s “%(title)s”, last message %(when)s")
        % {"id": t.pk, "title": t.title, "when": f"{t.last_message_at:%Y-%m-%d %H:%M}"}
        for t in rows.only("pk", "subject", "listing_id", "listing_title", "last_message_at")
    ]


def _describe_rows(ids, template):
    rows = Participant.objects.filter(pk__in=ids).select_related("thread").order_by("pk")
    return [
        template % {"thread": row.thread_id, "title": row.thread.title, "name": row.display_name}
        for row in rows
    ]


def _run(
    job,
    setting,
    step,
    *,
    site=None,
    days=None,
    dry_run=False,
    batch_size=None,
    progress=None,
    checkpoint=None,
    now=None,
):
    run = Run(
        job,
        dry_run=dry_run,
        batch_size=batch_size,
        progress=progress,
        checkpoint=checkpoint,
        now=now,
    )
    for scope in scopes(site):
        period = days if days is not None else getattr(scope.conf, setting)
        if not period:
            run.report(_("%(site)s: off.") % {"site": scope})
            continue
        run.result.sites += 1
        run.report(_("%(site)s: older than %(days)d days.") % {"site": scope, "days": period})
        step(run, scope, run.now - timedelta(days=period))
    return run.result


def _progress(run, what, count, total):
    run.report(
        _("  batch %(batch)d: %(count)d %(what)s (%(total)d so far)")
        % {"batch": run.result.batches, "count": count, "what": what, "total": total}
    )


def _would(run, lines):
    for line in lines:
        run.report(_("  would %(what)s") % {"what": line})


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
            _would(run, [_("delete %(what)s") % {"what": t} for t in _describe_threads(ids)])
            continue
        before = run.result.threads_deleted
        delete_threads(run, ids, condition)
        deleted = run.result.threads_deleted - before
        _progress(run, _("threads deleted"), deleted, run.result.threads_deleted)


def _purge_threads_step(run, scope, cutoff):
    if not run.dry_run:
        finish_expired_files(run, scope)
    doomed = Q(last_message_at__lt=cutoff)
    _delete_threads_in_batches(run, scope, doomed)


def purge_inactive_threads(**options):
    """Delete threads with no message for ``purge_inactive_threads_days``, with their
    messages, participants and files. The bench calls it with ``days`` on a large set and
    reads ``rows_deleted``."""
    return _run("purge_threads", "purge_inactive_threads_days", _purge_threads_step, **options)


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
            _would(
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
        _progress(run, _("attachments expired"), len(expiring), run.result.attachments_expired)


def purge_attachments(**options):
    """Delete attachment files older than ``purge_attachments_days``; the rows stay,
    expired, and the messages say the attachment expired."""
    return _run("purge_attachments", "purge_attachments_days", _purge_attachments_step, **options)


def _move_rows(run, ids, condition, folder):
    """Move the participant rows ``ids`` still matching ``condition`` to ``folder``."""
    with transaction.atomic():
        rows = locked(Participant.objects.filter(condition, pk__in=ids))
        return Participant.objects.filter(pk__in=list(rows.values_list("pk", flat=True))).update(
            folder=folder
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
            _would(run, _describe_rows(ids, template))
            continue
        moved = _move_rows(run, ids, old, Folder.DELETED)
        run.result.participants_moved += moved
        run.checkpoint("moved", ids)
        _progress(run, _("trashed threads emptied"), moved, run.result.participants_moved)

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
    return _run("empty_trash", "empty_trash_days", _empty_trash_step, **options)


def _auto_archive_step(run, scope, cutoff):
    idle = Q(folder=Folder.INBOX, last_message_at__lt=cutoff)
    for ids in id_batches(Participant.objects.filter(scope.q("thread__"), idle), run.batch_size):
        run.result.batches += 1
        run.checkpoint("picked", ids)
        if run.dry_run:
            run.result.participants_moved += len(ids)
            _would(
                run, _describe_rows(ids, _("archive thread #%(thread)s “%(title)s” for %(name)s"))
            )
            continue
        moved = _move_rows(run, ids, idle, Folder.ARCHIVE)
        run.result.participants_moved += moved
        _progress(run, _("threads archived"), moved, run.result.participants_moved)


def auto_archive(**options):
    """Move inbox rows idle for ``auto_archive_days`` to the archive; a new message
    brings a thread back to the inbox."""
    return _run("auto_archive", "auto_archive_days", _auto_archive_step, **options)


#: ``name: (label, function)`` in the order :func:`run_all` runs them: deleting first
#: spares the later jobs work.
JOBS = {
    "purge_threads": (gettext_lazy("Delete inactive threads"), purge_inactive_threads),
    "empty_trash": (gettext_lazy("Empty trash"), empty_trash),
    "purge_attachments": (gettext_lazy("Delete old attachments"), purge_attachments),
    "auto_archive": (gettext_lazy("Archive idle threads"), auto_archive),
}


def run_all(**options):
    """Run the four jobs with the same options; returns ``{name: JobResult}``."""
    return {name: function(**options) for name, (_label, function) in JOBS.items()}
