"""Delete the outbox's rows of emails sent longer ago than
``WAGTAILMESSENGER_OUTBOX_RETENTION`` (30 days): each holds a recipient's address.
Deleting them never sends an email again.

Cron, every night at 03:20 (``messenger_maintenance`` runs it too)::

    20 3 * * * cd /srv/site && ./manage.py messenger_purge_sent_emails
"""

from ._maintenance import MaintenanceCommand


class Command(MaintenanceCommand):
    help = (
        "Delete the outbox's rows of emails sent longer ago than "
        "WAGTAILMESSENGER_OUTBOX_RETENTION (30 days)."
    )
    jobs = ("purge_sent_emails",)
