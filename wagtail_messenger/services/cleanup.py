"""The building blocks of the maintenance jobs (:mod:`.maintenance`, whose docstring
describes the crash-safe design): runs and their results, the sites a run covers,
bounded id batches re-selected under row locks, and the deletion of files only after a
committed transaction marked their rows expired."""

import dataclasses
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _
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
    #: Conversations closed because their listing ended (``close_ended_listings``).
    threads_closed: int = 0
    #: Every database row deleted, cascades (messages, participants, …) included.
    rows_deleted: int = 0
    #: Stored files looked at (``purge_orphan_files``).
    files_checked: int = 0
    #: Expired personal data exports deleted with their files (``purge_data_exports``).
    exports_deleted: int = 0
    #: Daily summaries queued (``send_digests``).
    emails_queued: int = 0

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
        self.report_progress = progress
        self._checkpoint = checkpoint

    def report(self, line):
        if self.report_progress is not None:
            self.report_progress(line)

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


def describe_threads(ids):
    rows = Thread.objects.filter(pk__in=ids).order_by("pk")
    return [
        _("thread #%(id)s “%(title)s”, last message %(when)s")
        % {"id": t.pk, "title": t.title, "when": f"{t.last_message_at:%Y-%m-%d %H:%M}"}
        for t in rows.only("pk", "subject", "listing_id", "listing_title", "last_message_at")
    ]


def describe_rows(ids, template):
    rows = Participant.objects.filter(pk__in=ids).select_related("thread").order_by("pk")
    return [
        template % {"thread": row.thread_id, "title": row.thread.title, "name": row.display_name}
        for row in rows
    ]


def run_job(
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


def report_progress(run, what, count, total):
    run.report(
        _("  batch %(batch)d: %(count)d %(what)s (%(total)d so far)")
        % {"batch": run.result.batches, "count": count, "what": what, "total": total}
    )


def would(run, lines):
    for line in lines:
        run.report(_("  would %(what)s") % {"what": line})
