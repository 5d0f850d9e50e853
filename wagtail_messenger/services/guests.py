"""Private links: guests reach their threads with them; they are unguessable, stored
hashed (SHA-256), expire, and leave the URL after first use (the view stores the proven
email in the session and redirects)."""

import uuid

from django.urls import reverse
from django.utils import timezone

from ..actors import normalise_email
from ..conf import get_setting
from ..emails import absolute_url
from ..exceptions import InvalidLink
from ..models import AccessToken
from . import outbox, safety

Purpose = AccessToken.Purpose


def issue_link(email, *, thread=None, purpose=Purpose.GUEST, site=None, row=None):
    """Create a token for ``email`` and return the absolute URL that carries it. With
    the outbox ``row`` whose email carries it, the token is derived from the row
    (``outbox.link_token``): every attempt to send that email carries the same link."""
    max_age = get_setting(
        "INVITATION_MAX_AGE" if purpose == Purpose.INVITATION else "GUEST_LINK_MAX_AGE"
    )
    _token, raw = AccessToken.objects.issue(
        email=normalise_email(email),
        purpose=purpose,
        max_age=max_age,
        thread=thread,
        raw=outbox.link_token(row, purpose) if row is not None else None,
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
    """Owe ``email`` a fresh private link (to ``thread``, or to their conversations): an
    outbox row written now, in the caller's transaction, and sent once it commits (the
    sweeper retries it while the mail server refuses). The raw token is derived from
    the row when the email is rendered, so it never sits in the database or a queue."""
    row = _owe_link(email, getattr(thread, "pk", None), getattr(site, "pk", None))
    outbox.send_on_commit(row)
    return row


def _owe_link(email, thread_id, site_id):
    from ..models import OutboxEmail

    email = normalise_email(email)
    # Each request for a link is an email of its own.
    return outbox.add(
        OutboxEmail.Kind.GUEST_LINK,
        f"guest_link:{uuid.uuid4().hex}",
        recipient=email,
        email=email,
        thread=thread_id,
        site=site_id,
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
    """Owe and send a guest link now (the ``send_guest_link`` task, kept for tasks
    queued before the outbox). Returns whether it was sent; raises
    ``outbox.DeliveryFailed`` when the mail server refused (the sweeper retries)."""
    row = _owe_link(email, thread_id, site_id)
    return outbox.send_now(row.pk) == 1


def render_link_email(row):
    """The guest link email of the outbox ``row``. With a thread, the link opens it;
    without, the most recent of the guest's threads. ``None`` (nothing sent) for an
    address that has no guest conversation (any more)."""
    from wagtail.models import Site

    from ..emails import render_mail
    from ..models import Participant

    email = row.params["email"]
    thread_id, site_id = row.params.get("thread"), row.params.get("site")
    threads = guest_threads(email)
    if thread_id:  # the link that confirms a new thread's typed address, or a known one
        thread = guest_threads(email, unconfirmed_thread_id=thread_id).filter(pk=thread_id).first()
    else:
        thread = threads.first()
    if thread is None:
        return None
    site = Site.objects.filter(pk=site_id).first() if site_id else thread.site
    url = issue_link(email, thread=thread, site=site, row=row)
    name = (
        thread.participants.filter(kind=Participant.Kind.GUEST, email=email)
        .values_list("name", flat=True)
        .first()
    )
    return render_mail(
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
