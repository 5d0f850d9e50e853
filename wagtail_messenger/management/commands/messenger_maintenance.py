"""Run the maintenance jobs, each with its per-site period (0 = off), and the sweeps of
orphan files and of sent emails.

Cron, every night at 03:15::

    15 3 * * * cd /srv/site && ./manage.py messenger_maintenance
"""

from ...services import maintenance
from ._maintenance import MaintenanceCommand


class Command(MaintenanceCommand):
    help = (
        "Run all maintenance jobs: delete inactive threads, empty trash, delete old "
        "attachments, archive idle threads, close conversations of ended listings (periods "
        "per site, 0 = off), delete orphan files and sent emails past their retention."
    )
    jobs = tuple(maintenance.JOBS)
