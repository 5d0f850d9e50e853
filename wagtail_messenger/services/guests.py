"""Private links: guests reach their threads with them; they are unguessable, stored
hashed (SHA-256), expire, and leave the URL after first use (the view stores the proven
email in the session and redirects)."""

from django.urls import reverse
from django.utils import timezone

from .. import queue
from ..actors import normalise_email
from ..conf import get_setting
from ..emails import absolute_url
from ..exceptions import InvalidLink
from ..models import AccessToken
from . import safety

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


def check(raw, purpose=Purpose.GUEST):
    """The valid token row for ``raw`` or :class:`InvalidLink`; writes nothing (a
    ``HEAD`` from a mail scanner is answered from this)."""
    row = AccessToken.objects.valid(raw, purpose)
    if row is None:
        raise InvalidLink()
    return row


def redeem(raw, purpose=Purpose.GUEST):
    """The valid token row for ``raw`` or :class:`InvalidLink`, once the link lets its
    holder in: its first use is recorded and, for a guest link to a thread, the guest
    row of that address in that thread is confirmed (``email_verified``): opening the
    link emailed to an address is what proves a typed address."""
    from ..models import Participant

    row = check(raw, purpose)
    if row.used_at is None:
        AccessToken.objects.filter(pk=row.pk, used_at__isnull=True).update(used_at=timezone.now())
    if purpose == Purpose.GUEST and row.thread_id:
        Participant.objects.filter(
            thread_id=row.thread_id,
            kind=Participant.Kind.GUEST,
            email=row.email,
            email_verified=False,
        ).update(email_verified=True)
    return row


def send_link_on_commit(email, *, thread=None, site=None):
    """Email ``email`` a fresh private link (to ``thread``, or to their conversations)
    once the current transaction commits. The raw token is made inside the task, so it
    never sits in a task queue."""
    email = normalise_email(email)
    queue.after_commit(
        "send_guest_link", email, getattr(thread, "pk", None), getattr(site, "pk", None)
    )


def guest_threads(email, *, unconfirmed_thread_id=None):
    """Threads a guest with ``email`` takes part in with the address confirmed, newest
    activity first. A thread started by someone who only typed the address is not one
    of them (it would reach that address's owner's conversations, and its writer theirs);
    ``unconfirmed_thread_id`` adds that one thread, for the link that confirms it."""
    from django.db.models import Q

    from ..models import Participant, Thread

    rows = Participant.objects.live().filter(
        kind=Participant.Kind.GUEST, email=normalise_email(email)
    )
    confirmed = Q(email_verified=True)
    if unconfirmed_thread_id is not None:
        confirmed |= Q(thread_id=unconfirmed_thread_id)
    rows = rows.filter(confirmed)
    return Thread.objects.filter(pk__in=rows.values("thread_id")).order_by("-last_message_at")


def send_link_email(email, thread_id=None, site_id=None):
    """Build and send the guest link email (called by the ``send_guest_link`` task).

    With ``thread_id`` the link opens that thread; without it, the most recent of the
    guest's threads. Nothing is sent to an address that has no guest conversation."""
    from wagtail.models import Site

    from ..emails import render_mail
    from ..models import Participant

    email = normalise_email(email)
    threads = guest_threads(email)
    if thread_id:  # the link that confirms a new thread's typed address, or a known one
        thread = guest_threads(email, unconfirmed_thread_id=thread_id).filter(pk=thread_id).first()
    else:
        thread = threads.first()
    if thread is None:
        return False
    site = Site.objects.filter(pk=site_id).first() if site_id else thread.site
    url = issue_link(email, thread=thread, site=site)
    name = (
        thread.participants.filter(kind=Participant.Kind.GUEST, email=email)
        .values_list("name", flat=True)
        .first()
    )
    message = render_mail(
        "guest_link",
        {
            "url": url,
            "thread": thread,
            "name": name or "",
            "other_threads": list(threads.exclude(pk=thread.pk)[:10]),
            "site_name": site.site_name if site and site.site_name else "",
            "max_age_days": get_setting("GUEST_LINK_MAX_AGE").days,
        },
        to=email,
    )
    message.send()
    return True


def claim_guest_threads(user, email):
    """Turn the guest rows of ``email`` into ``user``'s rows (kind USER), once the user
    has proven that address (a guest link in the same session, then log in or sign up).
    Threads where the user already takes part keep the user's row; the guest row stays
    as it was. Rows whose address was only typed (``email_verified=False``) stay guest
    rows: the session proved the address for its own link's thread, not for them. People
    who blocked the guest's address block the account from then on
    (``safety.carry_guest_blocks``). Returns the number of threads joined."""
    from django.db import transaction

    from ..models import Participant, ProvenAddress
    from .parties import user_display_name

    email = normalise_email(email)
    if not email or normalise_email(getattr(user, "email", "")) != email:
        return 0
    with transaction.atomic():
        already = Participant.objects.filter(user=user).values("thread_id")
        joined = (
            Participant.objects.filter(
                kind=Participant.Kind.GUEST, email=email, email_verified=True
            )
            .exclude(thread_id__in=already)
            .update(kind=Participant.Kind.USER, user=user, name=user_display_name(user))
        )
        safety.carry_guest_blocks(email, user)
        ProvenAddress.objects.record(user, email)
    return joined
