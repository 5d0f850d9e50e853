"""The outbox's sweeper: send every email that is due.

That is an email the mail server refused earlier whose next attempt has come (backoff
``WAGTAILMESSENGER_EMAIL_RETRY_DELAY``, doubled per attempt), or one a killed worker was
sending once its lease (``WAGTAILMESSENGER_EMAIL_LEASE``) has expired; and email tasks a
killed ``db_worker`` left RUNNING are queued again. Whatever its kind: notifications,
guest links, invitations, moderation alerts. Run it from cron every minute or two next
to the task worker::

    * * * * * cd /srv/site && ./manage.py messenger_send_pending_notifications

``messenger_send_outbox`` is the same command under a name that says what it does.
"""

from django.core.management.base import BaseCommand, CommandError

from ...conf import get_setting
from ...services import mailer


class Command(BaseCommand):
    help = (
        "Send the emails of the outbox that are due (refused earlier, or left by a "
        "killed worker), up to WAGTAILMESSENGER_NOTIFICATION_MAX_ATTEMPTS attempts each."
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
        self.stdout.write(f"Sent {sent} pending email(s).")
