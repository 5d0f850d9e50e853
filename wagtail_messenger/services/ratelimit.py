"""Rate limits for guests (visitors without an account).

Fixed windows counted in the cache named by ``WAGTAILMESSENGER_RATELIMIT_CACHE``; in
production that must be a cache every process shares (Redis), else each process counts
on its own (system check ``wagtail_messenger.W001``). Limits come from the site settings
``guest_messages_per_hour`` and ``guest_threads_per_day`` (0 = no limit), counted per IP
address and per email address: changing one of them does not reset the other.
"""

import hashlib
import time

from django.core.cache import caches
from django.utils.translation import gettext as _

from ..actors import normalise_email
from ..conf import get_setting
from ..exceptions import RateLimited

HOUR = 3600
DAY = 24 * HOUR


def _cache():
    return caches[get_setting("RATELIMIT_CACHE")]


def _key(bucket, scope, value, window, now):
    digest = hashlib.sha256(value.encode()).hexdigest()[:32]
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


def client_ip(request):
    """The address the request came from (``REMOTE_ADDR``: behind a proxy, have it set
    this, e.g. with a trusted-proxy middleware; forwarded headers are not trusted here)."""
    return (request.META.get("REMOTE_ADDR") or "unknown")[:64] if request is not None else ""


def identities(ip="", email=""):
    ids = []
    if ip:
        ids.append(("ip", ip))
    email = normalise_email(email)
    if email:
        ids.append(("email", email))
    return ids


def check_guest(conf, *, ip="", email="", new_thread=False, now=None):
    """Count a guest's message (and new conversation) and raise :class:`RateLimited`
    when it goes over a limit. Call once per accepted submission."""
    now = time.time() if now is None else now
    cache = _cache()
    limits = [("message", conf.guest_messages_per_hour, HOUR)]
    if new_thread:
        limits.append(("thread", conf.guest_threads_per_day, DAY))
    for bucket, limit, window in limits:
        if not limit:
            continue
        for scope, value in identities(ip, email):
            if _hit(cache, _key(bucket, scope, value, window, now), window) > limit:
                raise RateLimited()


def check_link_requests(conf, *, ip="", email="", now=None):
    """ "Lost your link?" requests share the guest message allowance, so the form cannot
    be used to flood a mailbox."""
    now = time.time() if now is None else now
    limit = conf.guest_messages_per_hour
    if not limit:
        return
    cache = _cache()
    for scope, value in identities(ip, email):
        if _hit(cache, _key("link", scope, value, HOUR, now), HOUR) > limit:
            raise RateLimited(_("Too many requests for links. Please wait an hour and try again."))
