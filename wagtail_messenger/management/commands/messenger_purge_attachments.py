"""Delete attachment files older than the number of days set per site; the messages
stay and say the attachment expired.

Cron, every night at 03:15::

    15 3 * * * cd /srv/site && ./manage.py messenger_purge_attachments
"""

from ._maintenance import MaintenanceCommand


class Command(MaintenanceCommand):
    help = (
        "Delete attachment files older than the number of days set per site; the "
        "messages stay and say the attachment expired."
    )
    jobs = ("purge_attachments",)
