"""Background tasks: thin, taking ids, calling the services. The services enqueue them
by name after commit (``wagtail_messenger.queue``); this module registers them there."""

from django_tasks import task

from .queue import register
from .services import digests, guests, invitations, mailer, maintenance, outbox, privacy


@register
@task()
def notify_recipients(message_id):
    """Email the recipients of a delivered message (idempotent: a retry sends once), and
    enqueue ``send_invitations`` when the thread has recipients without an account.
    Raises ``outbox.DeliveryFailed`` when the mail server refused: the emails are kept
    in the outbox and ``send_pending_notifications`` retries them."""
    invitations.message_delivered(message_id)
    return mailer.send_message_notifications(message_id)


@register
@task()
def notify_moderators(event, message_id):
    """Alert opted-in moderators that a message was ``"held"`` or ``"reported"`` (once
    per moderator, event and message)."""
    return mailer.send_moderator_alert(event, message_id)


@register
@task()
def send_pending_notifications():
    """The outbox's sweeper: send every email that is due (refused earlier, or left by
    a killed worker once its lease expired), and queue again the email tasks a killed
    worker left running. Run it every minute or two (or the
    ``messenger_send_pending_notifications`` command from cron)."""
    return mailer.send_pending()


@register
@task()
def send_email(outbox_id):
    """Send one email of the outbox (a guest link, queued by the request that owes it)."""
    return outbox.send_now(outbox_id)


@register
@task()
def send_guest_link(email, thread_id=None, site_id=None):
    """Email a guest a fresh private link (to ``thread_id``, else their latest thread).
    Kept for tasks queued before the outbox; ``guests.send_link_on_commit`` queues
    ``send_email`` now."""
    guests.send_link_email(email, thread_id, site_id)


@register
@task()
def send_invitations(message_id):
    """Invite the recipients without an account of the message's thread to read it."""
    invitations.send_invitations(message_id)


@register
@task()
def build_data_export(export_id):
    """Build a person's data export (``services.privacy.build_export``) and owe them
    the email with its link. Idempotent."""
    return privacy.build_export(export_id)


# -- maintenance (enqueue from a scheduler; each job reads its period per site) ---------


@register
@task()
def purge_inactive_threads(site_id=None):
    """Delete threads inactive for ``purge_inactive_threads_days``. Returns the totals."""
    return maintenance.purge_inactive_threads(site=site_id).as_dict()


@register
@task()
def purge_attachments(site_id=None):
    """Delete attachment files older than ``purge_attachments_days``."""
    return maintenance.purge_attachments(site=site_id).as_dict()


@register
@task()
def empty_trash(site_id=None):
    """Empty trash older than ``empty_trash_days``."""
    return maintenance.empty_trash(site=site_id).as_dict()


@register
@task()
def auto_archive(site_id=None):
    """Archive threads idle for ``auto_archive_days``."""
    return maintenance.auto_archive(site=site_id).as_dict()


@register
@task()
def close_ended_listings(site_id=None):
    """Close the conversations of listings ended ``close_ended_listings_days`` ago."""
    return maintenance.close_ended_listings(site=site_id).as_dict()


@register
@task()
def purge_data_exports():
    """Delete personal data exports past their expiry, with their files."""
    return maintenance.purge_data_exports().as_dict()


@register
@task()
def purge_orphan_files():
    """Delete stored files no attachment points to, once a day old."""
    return maintenance.purge_orphan_files().as_dict()


@register
@task()
def purge_sent_emails():
    """Delete the outbox's rows sent longer ago than ``OUTBOX_RETENTION``."""
    return maintenance.purge_sent_emails().as_dict()


@register
@task()
def purge_reply_addresses():
    """Delete reply addresses that expired or were revoked."""
    return maintenance.purge_reply_addresses().as_dict()


@register
@task()
def send_digests():
    """Queue the daily summaries that are due (the outbox's sweeper does it too)."""
    return digests.send_digests().as_dict()


@register
@task()
def run_maintenance(site_id=None):
    """All maintenance jobs (the orphan and sent-email sweeps only without ``site_id``); returns
    ``{job: totals}``."""
    return {name: result.as_dict() for name, result in maintenance.run_all(site=site_id).items()}
