"""Delete threads with no message for the number of days set per site
(Settings → Messenger → Maintenance), with their messages and files.

Cron, every night at 03:15::

    15 3 * * * cd /srv/site && ./manage.py messenger_purge_threads
"""

from ._maintenance import MaintenanceCommand


class Command(MaintenanceCommand):
    help = (
        "Delete threads with no message for the number of days set per site "
        "(Settings → Messenger → Maintenance), with their messages and files."
    )
    jobs = ("purge_threads",)
