"""Site-wide bans, asked before every message is saved.

Bans are few and change only when a moderator bans or lifts one, so the banned
accounts and addresses are kept in the default cache as two sets of plain values (ids
and lower-cased addresses) for ``CACHE_SECONDS``; a ban saved or deleted clears the
entry at once (``signal_handlers.bans_changed``). With a per-process cache, other
processes see a new ban when their entry expires.
"""

from django.core.cache import cache

from ..models import Ban

CACHE_KEY = "wagtail_messenger:bans"
CACHE_SECONDS = 60


def banned():
    """``(user ids, lower-cased emails)`` under a site-wide ban."""
    found = cache.get(CACHE_KEY)
    if found is None:
        rows = Ban.objects.values_list("user_id", "email")
        found = (
            frozenset(user_id for user_id, _email in rows if user_id),
            frozenset(email.lower() for _user_id, email in rows if email),
        )
        cache.set(CACHE_KEY, found, CACHE_SECONDS)
    return found


def is_banned(user_id, email):
    """Whether a site-wide ban covers this account or this address (without case)."""
    users, emails = banned()
    return bool(user_id and user_id in users) or bool(email and email.lower() in emails)


def forget():
    cache.delete(CACHE_KEY)
