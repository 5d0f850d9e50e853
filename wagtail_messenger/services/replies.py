"""Reply by email: the notification's ``Reply-To`` and what happens to the answer.

**Outgoing.** With ``WAGTAILMESSENGER_REPLY_DOMAIN`` set, each notification email
carries ``Reply-To: reply+<key>@<domain>`` (:func:`address_for`). The key is derived
from the outbox row with the project's ``SECRET_KEY`` (every attempt of the email
carries the same one, as its guest link does); the database keeps its SHA-256 in a
:class:`~wagtail_messenger.models.ReplyAddress` tied to the participant the email went
to, expiring with the guest links.

**Incoming.** Mail to those addresses reaches :func:`receive` from django-anymail's
``inbound`` signal (any provider's inbound webhook) or from the
``messenger_fetch_replies`` command (a mailbox read over IMAP). The reply is posted by
that participant through :func:`~.conversations.post_message`, as on the site: the rate
limits, bans, spam filter and held messages apply, the quoted history and signature are
cut (mail-parser-reply), and one attachment is checked and stored like an upload. The
``Message-ID`` makes it idempotent: a provider that delivers the same email twice posts
it once.

**Refusals.** An unknown, expired or revoked key, a sender who is not the person the
notification went to, a closed conversation, an empty text or a refused file gets one
polite email saying why and that nothing was posted (``reply_notice``; a held reply is
told it waits for review). Never for mail robots (``Auto-Submitted``, ``Precedence``,
bounces), never twice for one email, at most ``REPLY_REFUSALS_PER_DAY`` a day per
address: no loop with an auto-responder is possible.

What cannot be decided now (storage or database unavailable) raises, so the provider
delivers the email again later (or the IMAP command leaves it unread): nothing is lost.
"""

import base64
import hashlib
import html
import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parseaddr

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy

from ..actors import Actor, normalise_email
from ..conf import get_setting
from ..emails import absolute_url, clean_header, render_mail
from ..exceptions import MessengerError, StorageUnavailable
from ..models import (
    Message,
    OutboxEmail,
    Participant,
    ProvenAddress,
    ReplyAddress,
)
from ..models.access import hash_token
from . import attachments, conversations, outbox, ratelimit
from .settings import for_site

logger = logging.getLogger(__name__)

Kind = Participant.Kind

#: Put at the top of a notification whose ``Reply-To`` is a reply address: everything
#: from the line holding it down is the quoted notification, cut from the reply.
MARKER = "##-"

#: Why a reply was not posted (stored as a code on the outbox row, translated when the
#: notice is rendered, in the language active then).
REASONS = {
    "unknown": gettext_lazy(
        "The address you replied to is not valid any more: reply addresses expire, and "
        "stop working when you leave the conversation."
    ),
    "sender": gettext_lazy(
        "Replies are accepted only from the address the notification was sent to."
    ),
    "empty": gettext_lazy("We found no text in your reply above the quoted message."),
    "refused": gettext_lazy("Your reply could not be posted."),
    "held": gettext_lazy(
        "Your reply was received and waits for a moderator's review before the other side sees it."
    ),
}


@dataclass
class Received:
    """What :func:`receive` did: ``posted`` (``created`` False when the same email came
    before), ``refused`` (a notice is owed to the sender) or ``ignored`` (not for us,
    or sent by a robot)."""

    outcome: str
    reason: str = ""
    message: Message | None = None
    created: bool = False


# -- outgoing -------------------------------------------------------------------------------


def enabled():
    return bool(get_setting("REPLY_DOMAIN"))


def reply_key(row):
    """The key of the outbox row ``row``'s reply address (32 lowercase base32
    characters, 160 bits): derived from the row, so every attempt of the email names
    the same address and no raw key is stored anywhere. Lowercase, since some mail
    servers lowercase the local part."""
    digest = salted_hmac(
        "wagtail_messenger.replies.key", f"reply:{row.pk}", algorithm="sha256"
    ).digest()
    return base64.b32encode(digest[:20]).decode().lower()


def address_for(participant, row):
    """``reply+<key>@<domain>`` for the notification ``row`` to ``participant``, with its
    :class:`ReplyAddress` created by the first attempt; ``""`` when replies are off or
    the recipient cannot answer (an invitee has no way to post yet)."""
    domain = get_setting("REPLY_DOMAIN")
    if not domain or row is None or participant.kind == Kind.INVITEE:
        return ""
    key = reply_key(row)
    ReplyAddress.objects.bulk_create(
        [
            ReplyAddress(
                key_hash=hash_token(key),
                participant=participant,
                expires_at=timezone.now() + get_setting("GUEST_LINK_MAX_AGE"),
            )
        ],
        ignore_conflicts=True,
    )
    return f"{get_setting('REPLY_PREFIX')}+{key}@{domain}"


# -- incoming -------------------------------------------------------------------------------


def is_automatic(message):
    """Mail no person wrote: auto-replies, out-of-office, bounces, mailing lists
    (RFC 3834 ``Auto-Submitted``, and the older headers robots still send)."""
    auto = (message.get("Auto-Submitted") or "no").strip().lower()
    if auto != "no":
        return True
    if (message.get("Precedence") or "").strip().lower() in {"bulk", "junk", "list", "auto_reply"}:
        return True
    if any(message.get(h) for h in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress")):
        return True
    if message.get("List-Id") or message.get("List-Unsubscribe"):
        return True
    if message.get_content_type() == "multipart/report":  # a delivery status notification
        return True
    envelope_sender = getattr(message, "envelope_sender", None)
    return envelope_sender is not None and envelope_sender.strip("<> ") == ""


_KEY = re.compile(r"^[a-z2-7]{32}$")


def find_key(message):
    """The key of the first recipient address that is one of ours, or ``""``."""
    domain = (get_setting("REPLY_DOMAIN") or "").lower()
    prefix = f"{get_setting('REPLY_PREFIX')}+".lower()
    candidates = [getattr(message, "envelope_recipient", None) or ""]
    for header in ("To", "Cc", "Delivered-To", "X-Original-To"):
        candidates += [a.addr_spec for a in message.get_address_header(header)]
    for address in candidates:
        local, _at, host = normalise_email(parseaddr(address)[1]).rpartition("@")
        if host == domain and local.startswith(prefix):
            key = local[len(prefix) :]
            if _KEY.match(key):
                return key
    return ""


def sender_address(message):
    from_email = message.from_email
    if isinstance(from_email, list):  # several From addresses: nobody in particular
        return ""
    return normalise_email(from_email.addr_spec) if from_email is not None else ""


def inbound_id(message):
    """Names this email for ever: a hash of its ``Message-ID`` (of its text and sender
    when it has none), the idempotency key of the message it posts."""
    message_id = (message.get("Message-ID") or "").strip()
    if not message_id:
        message_id = f"{sender_address(message)}\n{message.get('Date', '')}\n{message.text or ''}"
    return "email:" + hashlib.sha256(message_id.encode()).hexdigest()[:58]


def reply_text(message):
    """The reply's own words: the text part (or the HTML one, as text), cut at the
    notification's marker line, without the quoted history and signature."""
    text = message.text
    if not text and message.html:
        text = html_to_text(message.html)
    text = (text or "").replace("\r\n", "\n")
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if MARKER in line:
            lines = lines[:index]
            break
    text = "\n".join(lines)
    from mailparser_reply import EmailReplyParser

    languages = get_setting("REPLY_QUOTE_LANGUAGES")
    if languages is None:
        from mailparser_reply.constants import MAIL_LANGUAGES

        languages = list(MAIL_LANGUAGES)
    try:
        found = EmailReplyParser(languages=languages).read(text=text).replies
        if found:
            text = found[0].body  # without the quoted history and the signature
    except Exception:  # the parser's regexes on odd input: keep the text uncut
        logger.warning("Could not cut the quoted history of an emailed reply", exc_info=True)
    return text.strip()


def html_to_text(markup):
    import nh3

    markup = re.sub(r"(?i)<br\s*/?>|</(p|div|li|h[1-6]|tr|blockquote)>", "\n", markup)
    markup = re.sub(r"(?is)<(blockquote|style|script|head)\b.*?</\1>", "", markup)
    return html.unescape(nh3.clean(markup, tags=set()))


def receive(message, esp_name=""):
    """Post the emailed reply ``message`` (an ``AnymailInboundMessage``); returns
    :class:`Received`. Raises when the outcome cannot be decided now (storage or
    database unavailable) so that the email is delivered again later."""
    if not enabled():
        return Received("ignored", "replies are off")
    if is_automatic(message):
        return Received("ignored", "sent by a robot")
    key = find_key(message)
    sender = sender_address(message)
    if not key:
        return Received("ignored", "not addressed to a reply address")
    if not sender or _is_own_address(sender):
        return Received("ignored", "no sender to answer")
    email_id = inbound_id(message)
    address = (
        ReplyAddress.objects.usable()
        .select_related("participant__thread__site", "participant__user", "participant__group")
        .filter(key_hash=hash_token(key))
        .first()
    )
    participant = address.participant if address is not None else None
    if participant is None or participant.folder == Participant.Folder.DELETED:
        return _refuse(message, sender, email_id, "unknown")
    actor = _actor_for(participant, sender)
    if actor is None:
        return _refuse(message, sender, email_id, "sender", participant=participant)
    body = reply_text(message)
    if not body:
        return _refuse(message, sender, email_id, "empty", participant=participant)
    thread = participant.thread
    conf = for_site(thread.site)
    files = [part.as_uploaded_file() for part in message.attachments[:1]]
    try:
        if participant.kind == Kind.GUEST and not participant.email_verified:
            # Answering the email sent to the address proves it, as its link would.
            Participant.objects.filter(pk=participant.pk).update(email_verified=True)
            participant.email_verified = True
        if not Message.objects.filter(idempotency_key=email_id[:64]).exists():
            ratelimit.check_sender(conf, user=actor.user, email=actor.guest_email)
        with attachments.stored_upload(files[0] if files else None, conf) as upload:
            posted = conversations.post_message(
                actor=actor,
                thread=thread,
                body=body,
                upload=upload,
                idempotency_key=email_id[:64],
                conf=conf,
                participant=participant,
            )
    except StorageUnavailable:
        raise  # delivered again later
    except MessengerError as error:
        return _refuse(
            message, sender, email_id, "refused", participant=participant, detail=str(error)
        )
    ReplyAddress.objects.filter(pk=address.pk).update(used_at=timezone.now())
    if posted.created and posted.message.state == Message.State.HELD:
        _owe_notice(message, sender, email_id, "held", participant=participant)
    logger.info(
        "Emailed reply %s in thread %s (%s)", posted.message.pk, thread.pk, esp_name or "imap"
    )
    return Received("posted", message=posted.message, created=posted.created)


def _actor_for(participant, sender):
    """Who posts: the participant the email went to, if ``sender`` is their address (a
    team's member by their own address); ``None`` otherwise."""
    if participant.kind == Kind.GUEST:
        return Actor.for_guest(sender) if normalise_email(participant.email) == sender else None
    if participant.kind == Kind.USER:
        user = participant.user
        if user is None or not user.is_active:
            return None
        if normalise_email(user.email) == sender or (
            ProvenAddress.objects.filter(user=user, email__iexact=sender).exists()
        ):
            return Actor.for_user(user)
        return None
    if participant.kind == Kind.GROUP and participant.group_id:
        for user in participant.group.user_set.filter(is_active=True, email__iexact=sender):
            return Actor.for_user(user)
    return None


def _is_own_address(address):
    """Mail from the site itself (its sender address or a reply address): never answered."""
    domain = (get_setting("REPLY_DOMAIN") or "").lower()
    own = normalise_email(parseaddr(settings.DEFAULT_FROM_EMAIL)[1])
    return address == own or address.endswith(f"@{domain}")


# -- notices --------------------------------------------------------------------------------


def _refuse(message, sender, email_id, reason, *, participant=None, detail=""):
    _owe_notice(message, sender, email_id, reason, participant=participant, detail=detail)
    logger.info("Emailed reply not posted (%s): %s", reason, detail or REASONS[reason])
    return Received("refused", reason)


def _owe_notice(message, sender, email_id, reason, *, participant=None, detail=""):
    """One notice per inbound email (a second delivery of it owes nothing new), at most
    ``REPLY_REFUSALS_PER_DAY`` a day to one address."""
    since = timezone.now() - timedelta(days=1)
    recent = OutboxEmail.objects.filter(
        kind=OutboxEmail.Kind.REPLY_NOTICE, recipient=sender, created_at__gte=since
    )
    if recent.count() >= get_setting("REPLY_REFUSALS_PER_DAY"):
        return
    with transaction.atomic():
        row = outbox.build(
            OutboxEmail.Kind.REPLY_NOTICE,
            f"reply_notice:{email_id}",
            recipient=sender,
            reason=reason,
            detail=detail[:500],
            # Which conversation, only for the person it belongs to (a stranger who
            # guessed nothing learns nothing).
            participant=participant.pk if participant is not None and reason != "sender" else None,
            subject=clean_header(message.subject or "")[:150],
            in_reply_to=(message.get("Message-ID") or "").strip()[:250],
        )
        outbox.add_all([row])
        row = OutboxEmail.objects.filter(dedup_key=row.dedup_key, state=OutboxEmail.State.PENDING)
        row = row.first()
        if row is not None:
            outbox.send_on_commit(row)


def render_notice(row):
    """The ``reply_notice`` email of the outbox row ``row``."""
    params = row.params
    reason = params.get("reason", "refused")
    participant = (
        Participant.objects.select_related("thread__site")
        .filter(pk=params.get("participant"))
        .first()
        if params.get("participant")
        else None
    )
    thread = participant.thread if participant is not None else None
    site = thread.site if thread is not None else None
    thread_url = ""
    if thread is not None and participant.kind != Kind.GUEST:
        thread_url = absolute_url(thread.get_absolute_url(), site)
    context = {
        "reason": str(REASONS.get(reason, REASONS["refused"])),
        "detail": params.get("detail", ""),
        "held": reason == "held",
        "subject": params.get("subject", ""),
        "thread_title": clean_header(thread.title) if thread is not None else "",
        "thread_url": thread_url,
        "site_url": absolute_url("/", site),
        "site_name": clean_header(site.site_name or site.hostname) if site else "",
    }
    headers = {"Auto-Submitted": "auto-replied"}  # RFC 3834: robots do not answer it
    if params.get("in_reply_to"):
        headers["In-Reply-To"] = params["in_reply_to"]
        headers["References"] = params["in_reply_to"]
    return render_mail("reply_notice", context, to=row.recipient, headers=headers)
