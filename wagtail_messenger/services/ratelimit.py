"""Rate limits for everyone who writes: guests, accounts, and the emails sent to guests.

Fixed windows counted in the cache named by ``WAGTAILMESSENGER_RATELIMIT_CACHE``; in
production that must be a cache every process shares (Redis), else each process counts
on its own (system check ``wagtail_messenger.W001``). Limits come from the site settings
(:class:`~wagtail_messenger.models.MessengerSettings`, 0 = no limit):

- guests: ``guest_messages_per_hour`` and ``guest_threads_per_day``, counted per IP
  address and per email address (changing one does not reset the other);
- accounts: ``account_messages_per_minute`` and ``account_threads_per_day``, counted per
  account, with the lower ``new_account_*`` limits for accounts younger than
  ``new_account_days``; moderators and staff are exempt;
- emails of private links: ``guest_link_emails_per_day`` per destination address (its
  hash), whatever the IP addresses the requests come from.

A refusal raises :class:`~wagtail_messenger.exceptions.RateLimited`, whose
``retry_after`` is the number of seconds until the window that refused ends (the views
send it as ``Retry-After``). Call the checks before anything is saved or sent.
"""

import hashlib
import ipaddress
import math
import time
from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from ..actors import MODERATE_PERMISSION, normalise_email
from ..conf import get_setting
from ..exceptions import RateLimited

MINUTE = 60
HOUR = 3600
DAY = 24 * HOUR


def _cache():
    from django.core.cache import caches

    return caches[get_setting("RATELIMIT_CACHE")]


def _key(bucket, scope, value, window, now):
    digest = hashlib.sha256(str(value).encode()).hexdigest()[:32]
    return f"wagtail_messenger:rl:{bucket}:{scope}:{digest}:{int(now // window)}"


def _hit(cache, key, window):
    """Count one more event in ``key``'s window and return the new count (atomic where
    the cache is: ``add`` then ``incr`` are single commands on Redis)."""
    if cache.add(key, 1, timeout=window + 60):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=window + 60)
        return 1


def _retry_after(window, now):
    """Seconds until the fixed window holding ``now`` ends (at least 1)."""
    return max(1, math.ceil(window - (now % window)))


def _count(cache, limits, ids, now, message=None):
    """Count one event in each ``(bucket, limit, window)`` for each ``(scope, value)``
    and raise :class:`RateLimited` for the first that goes over its limit."""
    for bucket, limit, window in limits:
        if not limit:
            continue
        for scope, value in ids:
            if _hit(cache, _key(bucket, scope, value, window, now), window) > limit:
                raise RateLimited(message, retry_after=_retry_after(window, now))


# -- the client's address --------------------------------------------------------------


def _valid_ip(value):
    """``value`` as a normalised IP address string, or ``""``."""
    value = (value or "").strip()
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "203.0.113.7:51234"
        value = value.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return ""


def _meta_name(header):
    return "HTTP_" + header.strip().upper().replace("-", "_")


def client_ip(request):
    """The address the request came from, as far as this site can trust it.

    - ``WAGTAILMESSENGER_TRUSTED_CLIENT_IP_HEADER`` (e.g. ``"CF-Connecting-IP"``): a
      header one trusted proxy sets to the client's address; used when present and valid.
    - ``WAGTAILMESSENGER_TRUSTED_PROXY_COUNT`` (e.g. ``1``): the number of proxies in
      front of the site that each append to ``X-Forwarded-For``; the client is the entry
      that many places from the right. Entries further left were written by the client
      and are ignored (anyone can send ``X-Forwarded-For: 1.2.3.4``).
    - Otherwise, and when the header has fewer entries than proxies (a request that
      did not come through them), ``REMOTE_ADDR``.
    """
    if request is None:
        return ""
    meta = request.META
    header = get_setting("TRUSTED_CLIENT_IP_HEADER")
    if header:
        found = _valid_ip(meta.get(_meta_name(header), "").split(",")[0])
        if found:
            return found
    count = get_setting("TRUSTED_PROXY_COUNT")
    if count:
        hops = [hop.strip() for hop in meta.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [hop for hop in hops if hop]
        if len(hops) >= count:
            found = _valid_ip(hops[-count])
            if found:
                return found
    return _valid_ip(meta.get("REMOTE_ADDR")) or (meta.get("REMOTE_ADDR") or "unknown")[:64]


def ip_bucket(ip):
    """What an address is counted as: itself for IPv4, its /64 network for IPv6 (one
    subscriber gets a whole /64 and can change addresses within it at will)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if address.version == 6:
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def identities(ip="", email=""):
    ids = []
    if ip:
        ids.append(("ip", ip_bucket(ip)))
    email = normalise_email(email)
    if email:
        ids.append(("email", email))
    return ids


# -- guests ----------------------------------------------------------------------------


def check_guest(conf, *, ip="", email="", new_thread=False, now=None):
    """Count a guest's message (and new conversation) and raise :class:`RateLimited`
    when it goes over a limit. Call once per accepted submission."""
    now = time.time() if now is None else now
    limits = [("message", conf.guest_messages_per_hour, HOUR)]
    if new_thread:
        limits.append(("thread", conf.guest_threads_per_day, DAY))
    _count(_cache(), limits, identities(ip, email), now)


def check_link_requests(conf, *, ip="", now=None):
    """ "Lost your link?" requests from one IP address share the guest message
    allowance per hour. (The emails to one address are capped by
    :func:`link_email_allowed`, whatever the addresses the requests come from.)"""
    now = time.time() if now is None else now
    _count(
        _cache(),
        [("link", conf.guest_messages_per_hour, HOUR)],
        identities(ip=ip),
        now,
        _("Too many requests for links. Please wait an hour and try again."),
    )


def link_email_allowed(conf, email, *, now=None):
    """Count one email of a private link to ``email`` and say whether it may go:
    ``False`` once ``guest_link_emails_per_day`` were sent to it today (counted under a
    hash of the address, so the cache holds no address)."""
    limit = conf.guest_link_emails_per_day
    email = normalise_email(email)
    if not limit or not email:
        return True
    now = time.time() if now is None else now
    return _hit(_cache(), _key("linkmail", "email", email, DAY, now), DAY) <= limit


def check_link_email(conf, email, *, now=None):
    """:func:`link_email_allowed`, raising :class:`RateLimited` when it is not (guest
    compose and contact forms, whose answer may say so)."""
    now = time.time() if now is None else now
    if not link_email_allowed(conf, email, now=now):
        raise RateLimited(
            _(
                "Too many private links were emailed to this address today. Please try "
                "again tomorrow, or use a link you already received."
            ),
            retry_after=_retry_after(DAY, now),
        )


# -- accounts --------------------------------------------------------------------------


def is_exempt(user):
    """Moderators and staff are not limited (they answer many people at once)."""
    return bool(
        user.is_staff
        or user.is_superuser
        or (user.is_active and user.has_perm(MODERATE_PERMISSION))
    )


def is_new_account(conf, user, now=None):
    days = conf.new_account_days
    joined = getattr(user, "date_joined", None)
    if not days or joined is None:
        return False
    now = timezone.now() if now is None else now
    return joined > now - timedelta(days=days)


def account_limits(conf, user):
    """``(messages per minute, new threads per day)`` for ``user`` (0 = no limit)."""
    if is_new_account(conf, user):
        return conf.new_account_messages_per_minute, conf.new_account_threads_per_day
    return conf.account_messages_per_minute, conf.account_threads_per_day


def check_account(conf, user, *, new_thread=False, now=None):
    """Count a signed-in user's message (and new conversation) and raise
    :class:`RateLimited` when it goes over their limit."""
    if user.is_staff or user.is_superuser:
        return
    now = time.time() if now is None else now
    per_minute, per_day = account_limits(conf, user)
    limits = [("message", per_minute, MINUTE)]
    if new_thread:
        limits.append(("thread", per_day, DAY))
    _count_unless_exempt(user, limits, now)


def _count_unless_exempt(user, limits, now, message=None):
    """Count; the moderator permission (two queries) is asked only when over a limit,
    so a reply within the limits costs no query here."""
    try:
        _count(_cache(), limits, [("user", user.pk)], now, message)
    except RateLimited:
        if not is_exempt(user):
            raise


def check_sender(conf, *, user=None, ip="", email="", new_thread=False, now=None):
    """The limit of whoever sends: :func:`check_account` for a signed-in ``user``,
    else :func:`check_guest`."""
    if user is not None:
        return check_account(conf, user, new_thread=new_thread, now=now)
    return check_guest(conf, ip=ip, email=email, new_thread=new_thread, now=now)


def check_new_thread(conf, request, sender, *, emails_link):
    """A new conversation from ``sender`` (a :class:`~.parties.Party`): the sender's
    limits, and with ``emails_link`` (a typed address is sent a private link) the cap on
    link emails to that address. Compose and the contact forms call it."""
    check_sender(conf, user=sender.user, ip=client_ip(request), email=sender.email, new_thread=True)
    if emails_link:
        check_link_email(conf, sender.email)


def check_report(conf, *, user=None, ip="", email="", now=None):
    """Reports of messages are counted apart from messages (a report spends nothing of
    the sender's allowance), with the same limits: per minute for accounts (staff and
    moderators exempt), per hour for guests."""
    now = time.time() if now is None else now
    message = _("Too many reports in a short time. Please wait a little.")
    if user is not None:
        if not (user.is_staff or user.is_superuser):
            limits = [("report", account_limits(conf, user)[0], MINUTE)]
            _count_unless_exempt(user, limits, now, message)
        return
    limits = [("report", conf.guest_messages_per_hour, HOUR)]
    _count(_cache(), limits, identities(ip, email), now, message)
