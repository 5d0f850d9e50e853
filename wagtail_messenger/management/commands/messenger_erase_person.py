"""Erase a person from the messenger by email address, for a request received by mail
(GDPR article 17)::

    ./manage.py messenger_erase_person --email someone@example.com --dry-run
    ./manage.py messenger_erase_person --email someone@example.com

Guest and invitation rows with the address are anonymised ("Deleted user"); an account
with the address is erased from the messenger too (its rows lose the account), without
deleting the account itself: delete the account for that.
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from ...actors import normalise_email
from ...services import privacy


class Command(BaseCommand):
    help = (
        "Erase a person's messenger data by email address: anonymise their participant "
        "rows, delete their attachments, links and exports; the other party keeps the "
        "conversation."
    )

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True, help="The person's email address.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Print what would change, change nothing."
        )

    def handle(self, *args, email, dry_run=False, **options):
        email = normalise_email(email)
        try:
            validate_email(email)
        except ValidationError as error:
            raise CommandError(f"Not an email address: {email!r}") from error
        verb = "would be" if dry_run else "were"
        results = [("guest", privacy.erase_person(email=email, dry_run=dry_run))]
        for user in get_user_model().objects.filter(email__iexact=email):
            results.append(
                (f"account {user.get_username()}", privacy.erase_person(user=user, dry_run=dry_run))
            )
        for who, result in results:
            self.stdout.write(
                f"{email} ({who}): {result.participants} participant row(s) in "
                f"{result.threads} thread(s) {verb} anonymised, {result.attachments} "
                f"attachment(s) {verb} deleted, {result.messages_blanked} message(s) {verb} "
                f"blanked ({result.messages_kept} kept), {result.outbox_emails} outgoing "
                f"email(s) {verb} cleared, {result.links} private link(s) and "
                f"{result.exports} export(s) {verb} deleted."
            )
        if len(results) > 1 and not dry_run:
            self.stdout.write("The account itself was kept: delete it to remove it.")
