"""Move threads idle for the number of days set per site from the inbox to the archive.

Cron, every night at 03:15::

    15 3 * * * cd /srv/site && ./manage.py messenger_auto_archive
"""

from ._maintenance import MaintenanceCommand


class Command(MaintenanceCommand):
    help = "Move threads idle for the number of days set per site from the inbox to the archive."
    jobs = ("auto_archive",)
