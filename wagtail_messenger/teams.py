"""Team inboxes: which of a user's groups take part in threads.

A thread can go to a group (a site's fallback team); its members share one participant
row. Asking "is this user in a team?" on every request would cost a query, and folding it
into the inbox query as ``user = X OR group IN (subquery)`` stops databases from using
the inbox index. So the answer is cached per user (a few group ids, usually none) and the
inbox filters on ``user = X`` or ``user = X OR group IN (literal ids)``, both index scans.

The cache is invalidated by bumping a version when group membership changes or a group
first receives a thread. With a per-process cache (LocMemCache) other processes see the
change when their entry expires (``TEAM_CACHE_SECONDS``); use a shared cache (Redis) in
production, as system check ``wagtail_messenger.W001`` already advises.
"""

from django.core.cache import cache

VERSION_KEY = "wagtail_messenger:teams:version"
TEAM_CACHE_SECONDS = 300


def _version():
    version = cache.get(VERSION_KEY)
    if version is None:
        version = 1
        cache.add(VERSION_KEY, version, None)
    return version


def team_ids_for(user_id):
    """Ids of the user's groups that take part in at least one thread."""
    from django.contrib.auth import get_user_model

    from .models import Participant

    key = f"wagtail_messenger:teams:{_version()}:{user_id}"
    ids = cache.get(key)
    if ids is None:
        memberships = get_user_model().groups.through.objects.filter(user_id=user_id)
        teams = Participant.objects.filter(group__isnull=False).values("group_id")
        ids = sorted(
            memberships.filter(group_id__in=teams).values_list("group_id", flat=True).distinct()
        )
        cache.set(key, ids, TEAM_CACHE_SECONDS)
    return ids


def invalidate():
    try:
        cache.incr(VERSION_KEY)
    except ValueError:
        cache.set(VERSION_KEY, 2, None)
