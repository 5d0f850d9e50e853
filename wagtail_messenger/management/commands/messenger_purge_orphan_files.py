"""Delete stored attachment files that no attachment row points to, once a day old (an
upload S3 stored but never confirmed in time, a delete that could not reach it). Only
the plugin's own keys under ``messenger/`` are looked at.

Cron, every night at 03:15 (``messenger_maintenance`` runs it too)::

    15 3 * * * cd /srv/site && ./manage.py messenger_purge_orphan_files
"""

from ._maintenance import MaintenanceCommand


class Command(MaintenanceCommand):
    help = (
        "Delete stored attachment files no attachment points to, older than a day "
        "(only the plugin's keys under messenger/)."
    )
    jobs = ("purge_orphan_files",)
