"""The messenger's way to its site settings: through the default cache.

Every page that shows a "Send message" button, every thread page and every reply reads
the settings, and they change only when an editor saves them; a cached copy saves a
query (with a join) each time. Saving or deleting them clears the entry
(``signal_handlers.settings_changed``). The Wagtail admin's edit view keeps using
Wagtail's ``MessengerSettings.for_site``, which reads the database, so an editor never
edits a copy another process still caches.
"""

from django.core.cache import cache
from django.db import router
from wagtail.models import Site

from ..models import MessengerSettings


def for_site(site=None, request=None):
    """Site settings for ``site`` (or the request's, or the default site)."""
    if request is not None:
        attr = MessengerSettings.get_cache_attr_name()
        if not hasattr(request, attr):
            site = Site.find_for_request(request)
            if site is None:  # no site serves this host: the first site's, or defaults
                return for_site()
            setattr(request, attr, cached(site))
        return getattr(request, attr)
    if site is None:
        site = Site.objects.filter(is_default_site=True).first() or Site.objects.first()
    if site is None:
        return MessengerSettings()
    return cached(site)


def for_site_id(site_id):
    """:func:`for_site` by the site's id: a page that has a thread need not load its
    site (the site is read only when the cache has no copy)."""
    if site_id is None:
        return for_site()
    found = from_values(cache.get(MessengerSettings.cache_key(site_id)))
    if found is not None:
        return found
    site = Site.objects.filter(pk=site_id).first()
    return cached(site) if site is not None else for_site()


def cached(site):
    """``MessengerSettings.for_site(site)`` (get, or create with the defaults), kept in
    the default cache for ``MessengerSettings.CACHE_SECONDS`` as its plain column
    values: the fallback user or team are ids there and load when asked for, so no user
    object (nor its password hash) ever sits in the shared cache."""
    key = MessengerSettings.cache_key(site.pk)
    found = from_values(cache.get(key))
    if found is not None:
        return found
    conf = MessengerSettings.for_site(site)
    cache.set(key, values_of(conf), MessengerSettings.CACHE_SECONDS)
    return conf


def values_of(conf):
    return {field.attname: getattr(conf, field.attname) for field in COLUMNS}


def from_values(values):
    """The settings object for cached ``values``; ``None`` for a miss, or for an entry
    that lacks a column (written before an upgrade added it)."""
    if not isinstance(values, dict) or any(name not in values for name in NAMES):
        return None
    database = router.db_for_read(MessengerSettings)
    return MessengerSettings.from_db(database, NAMES, [values[name] for name in NAMES])


COLUMNS = MessengerSettings._meta.concrete_fields
NAMES = [field.attname for field in COLUMNS]
