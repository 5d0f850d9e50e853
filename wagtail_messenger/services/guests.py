"""Private links: guests reach their threads with them; they are unguessable, stored
hashed (SHA-256), expire, and leave the URL after first use (the view stores the proven
email in the session and redirects)."""

from django.urls import reverse
from django.utils import timezone

from ..actors import normalise_email
from ..conf import get_setting
from ..emails import absolute_url
from ..exceptions import InvalidLink
from ..models import AccessToken

Purpose = AccessToken.Purpose


def issue_link(email, *, thread=None, purpose=Purpose.GUEST, site=None):
    """Create a token for ``email`` and return the absolute URL that carries it."""
    max_age = get_setting(
        "INVITATION_MAX_AGE" if purpose == Purpose.INVITATION else "GUEST_LINK_MAX_AGE"
    )
    _row, raw = AccessToken.objects.issue(
        email=normalise_email(email), purpose=purpose, max_age=max_age, thread=thread
    )
    return absolute_url(reverse("wagtail_messenger:guest_link", args=[raw]), site)


def redeem(raw, purpose=Purpose.GUEST):
    """The valid token row for ``raw`` (its first use is recorded) or :class:`InvalidLink`."""
    row = AccessToken.objects.valid(raw, purpose)
    if row is None:
        raise InvalidLink()
    if row.used_at is None:
        AccessToken.objects.filter(pk=row.pk, used_at__isnull=True).update(used_at=timezone.now())
    return row
