"""Recipients named by an email address: an account if there is one, else an invitation.

Contact forms name their recipients by address. :func:`party_for_address` maps an address
to the site user who owns it; an address with no account becomes an *invitee*
participant, and :func:`send_invitations` emails it a link saying a message waits. The
link is an :class:`~wagtail_messenger.models.AccessToken` (purpose ``INVITATION``):
opening it proves the address, and :func:`claim` turns the invitee rows of that address
into the rows of whoever is logged in. Until then nothing leaks: the email carries no
message text unless the site's "message previews in emails" setting allows it.
"""

import logging

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from .. import emails, queue
from ..actors import normalise_email
from ..conf import get_setting
from ..models import AccessToken, Block, Message, OutboxEmail, Participant, ProvenAddress
from . import outbox
from .parties import Party, user_display_name
from .settings import for_site

logger = logging.getLogger(__name__)

Purpose = AccessToken.Purpose


def user_for_address(email):
    """The active user who proved ``email``, or ``None``.

    Proof is opening a link the plugin emailed to the address while logged in (an
    invitation or a guest link: :class:`~wagtail_messenger.models.ProvenAddress`), or,
    with django-allauth installed, an ``EmailAddress`` allauth marked verified. An
    account's email field alone proves nothing: anyone can sign up with someone else's
    address, and would then receive what a contact form sends to it. When several
    active accounts proved the address, the one that logged in most recently wins
    (accounts that never logged in come last), then the oldest account. Inactive
    accounts are ignored: their owner cannot log in to read anything.
    """
    email = normalise_email(email)
    if not email:
        return None
    User = get_user_model()
    proven = Q(pk__in=ProvenAddress.objects.filter(email=email).values("user_id"))
    verified = allauth_verified_user_ids(email)
    if verified is not None:
        proven |= Q(pk__in=verified)
    users = User._default_manager.filter(proven, is_active=True)
    return users.order_by(F("last_login").desc(nulls_last=True), "pk").first()


def allauth_verified_user_ids(email):
    """The ids of users allauth verified ``email`` for (a queryset), or ``None`` when
    ``allauth.account`` is not installed."""
    from django.apps import apps

    if not apps.is_installed("allauth.account"):
        return None
    EmailAddress = apps.get_model("account", "EmailAddress")
    return EmailAddress.objects.filter(email__iexact=email, verified=True).values("user_id")


def party_for_address(email):
    """A :class:`Party` for a recipient named by address: the user who proved it
    (:func:`user_for_address`), else an invitee, who is emailed an invitation link."""
    user = user_for_address(email)
    return Party.for_user(user) if user is not None else Party.invitee(email)


# -- invitations -------------------------------------------------------------------------


def message_delivered(message_id):
    """A message reached its thread: invite the thread's invitees who have not been
    invited to it yet, in a task of its own (a refused invitation is retried without
    holding up the other recipients' notifications). Called by the notification task,
    so the reply itself does not pay for the check; one cheap query when the thread
    has no invitee."""
    has_invitees = Participant.objects.filter(
        thread__messages=message_id, kind=Participant.Kind.INVITEE
    ).exists()
    if has_invitees:
        queue.after_commit("send_invitations", message_id)


def send_invitations(message_id):
    """Email every invitee of the message's thread who has no invitation to it yet.

    Idempotent: each invitation is an outbox email owed once per thread and address
    (``invitation:<thread>:<address>``), so a retried task sends nothing twice; a
    refused one is kept and retried by the sweeper (raises ``outbox.DeliveryFailed``
    meanwhile). Returns how many were sent now."""
    message = (
        Message.objects.select_related("thread")
        .filter(pk=message_id, state=Message.State.VISIBLE)
        .first()
    )
    if message is None:
        return 0
    thread = message.thread
    invitees = Participant.objects.filter(thread=thread, kind=Participant.Kind.INVITEE).live()
    # An address with a token was invited already (before the outbox, or by a row of
    # it whose send is still pending: that row is sent below).
    invited = set(
        AccessToken.objects.filter(purpose=Purpose.INVITATION, thread=thread).values_list(
            "email", flat=True
        )
    )
    prefix = f"invitation:{thread.pk}:"
    outbox.add_all(
        [
            outbox.build(
                OutboxEmail.Kind.INVITATION,
                f"{prefix}{invitee.email}",
                recipient=invitee.email,
                participant=invitee.pk,
                message=message.pk,
            )
            for invitee in invitees
            if invitee.email and invitee.email not in invited
        ]
    )
    pending = OutboxEmail.objects.filter(
        dedup_key__startswith=prefix, state=OutboxEmail.State.PENDING
    )
    return outbox.send_rows(pending.order_by("pk")).check()


def issue_invitation(email, *, thread, site=None, row=None):
    """Create an invitation token and return ``(token row, absolute claim URL)``; with the
    outbox ``row`` of the email, the token derived from it (the same on every attempt)."""
    token, raw = AccessToken.objects.issue(
        email=normalise_email(email),
        purpose=Purpose.INVITATION,
        max_age=get_setting("INVITATION_MAX_AGE"),
        thread=thread,
        raw=outbox.link_token(row, Purpose.INVITATION) if row is not None else None,
    )
    path = reverse("wagtail_messenger:claim_link", args=[raw])
    return token, emails.absolute_url(path, site or thread.site)


def render_invitation_email(row):
    """The invitation of the outbox ``row``, or ``None`` once it is not owed: the message
    is hidden or gone, or the address has claimed the thread since."""
    invitee = (
        Participant.objects.filter(pk=row.params.get("participant"), kind=Participant.Kind.INVITEE)
        .live()
        .first()
    )
    message = (
        Message.objects.select_related("thread", "thread__site", "sender")
        .filter(pk=row.params.get("message"), state=Message.State.VISIBLE)
        .first()
    )
    if invitee is None or message is None:
        return None
    _token, url = issue_invitation(invitee.email, thread=message.thread, row=row)
    return render_invitation(invitee, message, url)


def render_invitation(invitee, message, url):
    thread = message.thread
    conf = for_site(thread.site)
    site_name = (thread.site.site_name if thread.site else "") or emails.site_root_url(
        thread.site
    ).split("//")[-1]
    preview = ""
    if conf.email_previews:
        limit = get_setting("PREVIEW_LENGTH")
        preview = message.body if len(message.body) <= limit else message.body[:limit] + "…"
    context = {
        "site_name": site_name,
        "thread": thread,
        "listing_title": thread.listing_title if thread.listing_id else "",
        "show_preview": conf.email_previews,
        "sender_name": message.sender.name if conf.email_previews else "",
        "preview": preview,
        "claim_url": url,
        "email": invitee.email,
        "max_age_days": get_setting("INVITATION_MAX_AGE").days,
    }
    return emails.render_mail(
        "invitation", context, to=invitee.email, headers={"Auto-Submitted": "auto-generated"}
    )


# -- claiming ----------------------------------------------------------------------------


def check(raw):
    """The valid invitation token for ``raw`` or :class:`InvalidLink`; writes nothing."""
    from .guests import check as check_token

    return check_token(raw, Purpose.INVITATION)


def redeem(raw):
    """The valid invitation token for ``raw`` (its first use recorded) or
    :class:`InvalidLink`."""
    from .guests import redeem as redeem_token

    return redeem_token(raw, Purpose.INVITATION)


def claim(user, email):
    """Give ``user`` the threads waiting for ``email``: its invitee rows become the user's.

    Proving the address is the act of opening the emailed link, so the account's own
    email may differ; callers pass the address the link proved, never the account's
    email. The proof is recorded (:class:`~wagtail_messenger.models.ProvenAddress`):
    later messages to the address go straight to the user. Where the user already takes
    part in a thread, the invitee row is folded into theirs (unread counts add up).
    Anyone in those threads who blocks the account has the thread sink in their inbox,
    as with their other threads with that person. The address's other invitation links
    stop working: the threads they led to are claimed. Returns the claimed thread ids."""
    email = normalise_email(email)
    party = Party.for_user(user)
    with transaction.atomic():
        rows = list(
            Participant.objects.select_for_update()
            .filter(kind=Participant.Kind.INVITEE, email=email)
            .order_by("pk")
        )
        thread_ids = []
        for row in rows:
            mine = Participant.objects.filter(thread_id=row.thread_id, user=user).first()
            if mine is not None:
                Participant.objects.filter(pk=mine.pk).update(
                    unread_count=F("unread_count") + row.unread_count
                )
                if not row.sent_messages.exists():
                    row.delete()
            else:
                row.kind = Participant.Kind.USER
                row.user = user
                row.name = user_display_name(user)
                row.email = party.email
                row.save(update_fields=["kind", "user", "name", "email"])
            thread_ids.append(row.thread_id)
        # People who block the account now share these threads with it: their rows sink
        # and grey as their other threads with that person do (``peer_blocked``, set by
        # ``safety.block`` for the threads that existed then).
        blockers = Block.objects.filter(blocked_user=user).values("blocker_id")
        Participant.objects.filter(thread_id__in=thread_ids, user_id__in=blockers).update(
            peer_blocked=True
        )
        AccessToken.objects.filter(
            purpose=Purpose.INVITATION, email=email, expires_at__gt=timezone.now()
        ).update(expires_at=timezone.now())
        ProvenAddress.objects.record(user, email)
    return thread_ids
