"""Retry notification emails the mail server refused.

Run it from cron every few minutes next to the task worker, for example::

    */5 * * * * cd /srv/site && ./manage.py messenger_send_pending_notifications
"""

from django.core.management.base import BaseCommand, CommandError

from ...conf import get_setting
from ...services import mailer


class Command(BaseCommand):
    help = (
        "Send notification emails that failed earlier (fewer than "
        "WAGTAILMESSENGER_NOTIFICATION_MAX_ATTEMPTS attempts so far)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--max-attempts",
            type=int,
            default=None,
            help="Give up on emails tried this many times (default: the setting).",
        )

    def handle(self, *args, max_attempts=None, **options):
        if max_attempts is None:
            max_attempts = get_setting("NOTIFICATION_MAX_ATTEMPTS")
        try:
            sent = mailer.send_pending(max_attempts)
        except mailer.DeliveryFailed as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"Sent {sent} pending notification email(s).")
