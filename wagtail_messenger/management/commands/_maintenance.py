"""Shared base of the maintenance commands (not a command itself: the leading underscore
keeps Django from listing it)."""

from django.core.management.base import BaseCommand, CommandError
from wagtail.models import Site

from ...services import maintenance


class MaintenanceCommand(BaseCommand):
    #: Names in :data:`wagtail_messenger.services.maintenance.JOBS`.
    jobs = ()

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Print what would change, and change nothing.",
        )
        parser.add_argument(
            "--site",
            help="Only this site (hostname, hostname:port, or id). Threads without a site "
            "belong to the default site.",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=None,
            help="Rows per transaction (default: WAGTAILMESSENGER_MAINTENANCE_BATCH_SIZE).",
        )

    def handle(self, *args, dry_run=False, site=None, batch_size=None, **options):
        if batch_size is not None and batch_size < 1:
            raise CommandError("--batch-size must be 1 or more.")
        try:
            site = maintenance.resolve_site(site)
        except Site.DoesNotExist as error:
            raise CommandError(str(error)) from error
        verbose = options["verbosity"] >= 1
        for name in self.jobs:
            label, job = maintenance.JOBS[name]
            if verbose:
                self.stdout.write(
                    self.style.MIGRATE_HEADING(f"{label}{' (dry run)' if dry_run else ''}")
                )
            result = job(
                site=site,
                dry_run=dry_run,
                batch_size=batch_size,
                progress=self.stdout.write if verbose else None,
            )
            self.stdout.write(self.summary(result))

    def summary(self, result):
        verb = "would be" if result.dry_run else "were"
        parts = {
            "purge_threads": [
                f"{result.threads_deleted} thread(s) {verb} deleted",
                f"{result.rows_deleted} row(s) in all" if not result.dry_run else "",
                f"{result.files_deleted} file(s) {verb} deleted",
            ],
            "purge_attachments": [
                f"{result.attachments_expired} attachment(s) {verb} expired",
                f"{result.files_deleted} file(s) {verb} deleted",
            ],
            "empty_trash": [
                f"{result.participants_moved} trashed thread(s) {verb} emptied",
                f"{result.threads_deleted} thread(s) {verb} deleted",
                f"{result.files_deleted} file(s) {verb} deleted",
            ],
            "auto_archive": [f"{result.participants_moved} thread(s) {verb} archived"],
            "close_ended_listings": [f"{result.threads_closed} thread(s) {verb} closed"],
            "purge_orphan_files": [
                f"{result.files_deleted} orphan file(s) {verb} deleted",
                f"{result.files_checked} old file(s) checked",
            ],
            "purge_sent_emails": [f"{result.rows_deleted} sent email(s) {verb} deleted"],
            "purge_data_exports": [
                f"{result.exports_deleted} expired data export(s) {verb} deleted"
            ],
            "purge_reply_addresses": [
                f"{result.rows_deleted} expired reply address(es) {verb} deleted"
            ],
            "send_digests": [
                f"{result.emails_queued} daily summar{'y' if result.emails_queued == 1 else 'ies'}"
                f" {'would be' if result.dry_run else 'were'} queued"
            ],
        }[result.job]
        text = ", ".join(p for p in parts if p)
        if result.job in ("purge_data_exports", "purge_reply_addresses", "send_digests"):
            return f"Total: {text}."
        if result.job in ("purge_orphan_files", "purge_sent_emails"):  # not a site's
            return f"Total: {text} ({result.batches} batch(es))."
        return f"Total: {text} ({result.sites} site(s), {result.batches} batch(es))."
