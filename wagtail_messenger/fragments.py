"""Repeated pieces of markup (inbox rows, messages), rendered by their templates and
kept in the cache under what they show.

A page of 20 rows or messages would spend most of its time in the template engine (a
row prints some 25 values). :func:`render_each` renders ``template_name`` once per item
and keeps the result in the cache named by ``WAGTAILMESSENGER_FRAGMENT_CACHE`` for
``WAGTAILMESSENGER_FRAGMENT_CACHE_SECONDS``, under a key made of everything the
fragment shows (the item's ``fields``), the language, the time zone, and the
template itself (its file and when it last changed, and the plugin's version). A
changed row, a reader in another language, or an edited template each get a new key;
nothing is ever invalidated by hand. One ``get_many`` reads a page's fragments; those
missing are rendered and stored with one ``set_many``.

The fragments hold no CSRF token and nothing about who reads them beyond what is in
their key: a page's viewer-dependent parts (the token, "you") live outside them.
"""

import hashlib
import os

from django.core.cache import caches
from django.template.loader import get_template
from django.utils import timezone, translation
from django.utils.safestring import mark_safe

from . import __version__
from .conf import get_setting


def render_each(template_name, items, *, name, fields, context=None):
    """``[safe HTML]``: ``template_name`` rendered for each of ``items`` (as ``name`` in
    its context, beside ``context``); ``fields`` names the item's attributes the
    fragment shows, whose values make its key."""
    if not items:
        return []
    template = get_template(template_name)
    seconds = get_setting("FRAGMENT_CACHE_SECONDS")
    context = context or {}
    if not seconds:
        return [template.render({**context, name: item}) for item in items]
    cache = caches[get_setting("FRAGMENT_CACHE")]
    prefix = _prefix(template, context)
    keys = [_key(prefix, tuple(str(getattr(item, field)) for field in fields)) for item in items]
    found = cache.get_many(keys)
    missing, html = {}, []
    for item, cache_key in zip(items, keys, strict=True):
        text = found.get(cache_key)
        if text is None:
            text = missing[cache_key] = template.render({**context, name: item})
        html.append(mark_safe(text))  # noqa: S308 -- rendered by the autoescaping template
    if missing:
        cache.set_many(missing, seconds)
    return html


def _prefix(template, context):
    origin = template.origin.name
    try:
        changed = os.stat(origin).st_mtime_ns
    except (OSError, TypeError):
        changed = 0
    shared = repr(sorted((k, repr(v)) for k, v in context.items()))
    return (
        f"{__version__}|{origin}|{changed}|{translation.get_language()}|"
        f"{timezone.get_current_timezone_name()}|{shared}"
    )


def _key(prefix, values):
    digest = hashlib.blake2b(f"{prefix}|{values!r}".encode(), digest_size=20).hexdigest()
    return f"wagtail_messenger:fragment:{digest}"
