"""Empty each person's trash after the number of days set per site; threads nobody sees
any more are deleted with their files.

Cron, every night at 03:15::

    15 3 * * * cd /srv/site && ./manage.py messenger_empty_trash
"""

from ._maintenance import MaintenanceCommand


class Command(MaintenanceCommand):
    help = (
        "Empty each person's trash after the number of days set per site; threads "
        "nobody sees any more are deleted with their files."
    )
    jobs = ("empty_trash",)
