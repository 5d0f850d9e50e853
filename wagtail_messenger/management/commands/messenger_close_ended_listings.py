"""Close the conversations of listings sold, unpublished or deleted longer ago than the
number of days set per site (Settings → Messenger → Maintenance).

Cron, every night at 03:20::

    20 3 * * * cd /srv/site && ./manage.py messenger_close_ended_listings
"""

from ._maintenance import MaintenanceCommand


class Command(MaintenanceCommand):
    help = (
        "Close the conversations of listings sold, unpublished or deleted longer ago than "
        "the number of days set per site."
    )
    jobs = ("close_ended_listings",)
