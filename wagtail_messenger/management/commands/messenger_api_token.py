"""Make a token for a front end served from another origin (docs/api.md): requests with
``Authorization: Bearer <token>`` act as the user in the JSON API until it expires.
The token is printed once; only its SHA-256 is stored. ``--revoke`` deletes the user's
tokens."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from ...models import ApiToken


class Command(BaseCommand):
    help = "Print a new JSON API token for a user (or --revoke their tokens)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="What the token is for.")
        parser.add_argument("--days", type=int, default=90, help="Days until it expires.")
        parser.add_argument("--revoke", action="store_true", help="Delete the user's tokens.")

    def handle(self, username, name="", days=90, revoke=False, **options):
        User = get_user_model()
        user = User.objects.filter(**{User.USERNAME_FIELD: username}).first()
        if user is None or not user.is_active:
            raise CommandError(f"No active user {username!r}.")
        if revoke:
            count, _ = ApiToken.objects.filter(user=user).delete()
            self.stdout.write(f"{count} token(s) of {username} revoked.")
            return
        if not 1 <= days <= 3650:
            raise CommandError("--days must be from 1 to 3650.")
        row, raw = ApiToken.objects.issue(user, name=name[:100], days=days)
        self.stdout.write(raw)
        self.stderr.write(f"Expires {row.expires_at:%Y-%m-%d}. Shown once: keep it secret.")
