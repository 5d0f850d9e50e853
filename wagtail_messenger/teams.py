"""Team inboxes: which of a user's groups take part in threads.

A thread can go to a group (a site's fallback team); its members share one participant
row. Asking "is this user in a team?" on every request would cost a query, and folding it
into the inbox query as ``user = X OR group IN (subquery)`` stops databases from using
the inbox index. So the answer is cached per user (a few group ids, usually none) and the
inbox filters on ``user = X`` or ``user = X OR group IN (literal ids)``, both index scans.

The cache is invalidated by bumping a version when group membership changes or a group
first receives a thread (each user's entry records the version it was worked out at).
With a per-process cache (LocMemCache) other processes see the change when their entry
expires (``TEAM_CACHE_SECONDS``); use a shared cache (Redis) in production, as system
check ``wagtail_messenger.W001`` already advises.
"""

from django.core.cache import cache

VERSION_KEY = "wagtail_messenger:teams:version"
TEAM_CACHE_SECONDS = 300


def team_ids_for(user_id):
    """Ids of the user's groups that take part in at least one thread.

    One cache round trip in the usual case: the current version and the user's entry
    (stored with the version it was worked out at) are read together, so a shared
    cache such as Redis costs one request per page, not two."""
    from django.contrib.auth import get_user_model

    from .models import Participant

    key = f"wagtail_messenger:teams:{user_id}"
    found = cache.get_many([VERSION_KEY, key])
    version = found.get(VERSION_KEY)
    if version is None:
        version = 1
        cache.add(VERSION_KEY, version, None)
    entry = found.get(key)
    if entry is not None and entry[0] == version:
        return entry[1]
    memberships = get_user_model().groups.through.objects.filter(user_id=user_id)
    teams = Participant.objects.filter(group__isnull=False).values("group_id")
    ids = sorted(
        memberships.filter(group_id__in=teams).values_list("group_id", flat=True).distinct()
    )
    cache.set(key, (version, ids), TEAM_CACHE_SECONDS)
    return ids


def invalidate():
    try:
        cache.incr(VERSION_KEY)
    except ValueError:
        cache.set(VERSION_KEY, 2, None)
