"""Queue the daily summaries that are due: once a day per person who chose "A daily
summary", at the first run after ``WAGTAILMESSENGER_DIGEST_HOUR`` (8, the site's
``TIME_ZONE``). The outbox's sweeper (``messenger_send_pending_notifications``, every
minute) and ``messenger_maintenance`` run it too; running it more often sends nothing
twice.

Cron, every hour at :05 (when the sweeper does not run)::

    5 * * * * cd /srv/site && ./manage.py messenger_send_digests
"""

from ._maintenance import MaintenanceCommand


class Command(MaintenanceCommand):
    help = (
        'Queue the daily summaries that are due (people who chose "A daily summary"), '
        "once a day per person after WAGTAILMESSENGER_DIGEST_HOUR."
    )
    jobs = ("send_digests",)
