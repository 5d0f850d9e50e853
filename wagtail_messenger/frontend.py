"""The plugin's own pages inside the site's theme, whatever its base template looks like.

Every front-end page extends ``wagtail_messenger/base.html``, which extends the layout
this module picks (``messenger_layout`` in the context, set by :func:`render`):

- the site's base template (``WAGTAILMESSENGER_BASE_TEMPLATE``, ``"base.html"``) through a
  one-line adapter that puts the plugin's page into its content block: the block named by
  ``WAGTAILMESSENGER_CONTENT_BLOCK``, or else the first of :data:`CONTENT_BLOCKS` the
  template has (``wagtail start`` calls it ``content``);
- ``wagtail_messenger/layouts/standalone.html``, a plain page of its own, when the base
  template is missing or has no such block (the system checks ``W030``/``W031`` say so).

The page's stylesheet and scripts are emitted inside that block, as external files, so
they load whatever head or script blocks the theme has (or none), under a strict
Content-Security-Policy.
"""

import functools
import re

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.shortcuts import render as django_render
from django.template import TemplateDoesNotExist, engines
from django.template.backends.django import DjangoTemplates
from django.template.loader import get_template
from django.template.loader_tags import BlockNode, ExtendsNode

from . import login
from .conf import get_setting

#: Block names tried, in order, when ``WAGTAILMESSENGER_CONTENT_BLOCK`` is not set.
CONTENT_BLOCKS = ("content", "main", "main_content", "page_content", "body_content")
STANDALONE = "wagtail_messenger/layouts/standalone.html"
NAME_RE = re.compile(r"^\w+$")


class Layout:
    """Which layout the plugin's pages use, and why (the system checks print ``problem``)."""

    def __init__(self, template, block=None, problem=None, blocks=(), missing=False):
        self.template = template  # a Template object or a template name, for {% extends %}
        self.block = block
        self.problem = problem
        self.blocks = blocks  # the blocks the base template has, for the check's hint
        self.missing = missing  # the base template does not exist

    @property
    def is_standalone(self):
        return self.template == STANDALONE


def block_names(template_name, seen=None):
    """Every ``{% block %}`` name of ``template_name`` and the templates it extends;
    ``None`` when that cannot be told (another template engine, a computed parent)."""
    seen = seen or set()
    if template_name in seen:
        return set()
    seen.add(template_name)
    backend_template = get_template(template_name)
    template = getattr(backend_template, "template", None)
    if template is None or not hasattr(template, "nodelist"):
        return None
    names = {node.name for node in template.nodelist.get_nodes_by_type(BlockNode)}
    for node in template.nodelist.get_nodes_by_type(ExtendsNode):
        parent = node.parent_name.var
        if not isinstance(parent, str) or node.parent_name.filters:
            return None
        parent_names = block_names(parent, seen)
        if parent_names is None:
            return None
        names |= parent_names
    return names


def _adapter(base, block):
    """``{% extends base %}`` putting the plugin's page into ``block``, compiled by the
    project's Django template engine (the plugin's templates need one; so does Wagtail)."""
    engine = next(engine for engine in engines.all() if isinstance(engine, DjangoTemplates))
    return engine.from_string(
        f'{{% extends "{base}" %}}'
        f"{{% block {block} %}}{{% block messenger_page %}}{{% endblock %}}{{% endblock %}}"
    )


@functools.cache
def layout():
    """The :class:`Layout` for the configured base template (worked out once per
    process, again when a test changes the settings, and for every page with DEBUG on)."""
    base = get_setting("BASE_TEMPLATE")
    wanted = get_setting("CONTENT_BLOCK")
    try:
        names = block_names(base)
    except TemplateDoesNotExist:
        return Layout(
            STANDALONE, problem=f"the base template '{base}' does not exist", missing=True
        )
    found = sorted(names or ())
    if names is None:  # its parent is computed at render time: trust the settings
        block = wanted or CONTENT_BLOCKS[0]
    elif wanted:
        block = wanted if wanted in names else None
        problem = f"the base template '{base}' has no block '{wanted}'"
    else:
        block = next((name for name in CONTENT_BLOCKS if name in names), None)
        problem = f"the base template '{base}' has none of the blocks {', '.join(CONTENT_BLOCKS)}"
    if block is None:
        return Layout(STANDALONE, problem=problem, blocks=found)
    if not NAME_RE.match(block) or '"' in base:
        return Layout(STANDALONE, problem=f"'{base}' or '{block}' cannot be used", blocks=found)
    return Layout(_adapter(base, block), block=block, blocks=found)


@receiver(setting_changed)
def _forget_layout(setting, **kwargs):
    if setting.startswith("WAGTAILMESSENGER_") or setting == "TEMPLATES":
        layout.cache_clear()


def page_context(request):
    """What every plugin page's template needs besides its own context."""
    if settings.DEBUG:  # a theme being written: see its base template's blocks change
        layout.cache_clear()
    return {
        "messenger_layout": layout().template,
        "messenger_login_url": login.login_url(request.get_full_path()),
    }


def render(request, template_name, context=None, status=None):
    """:func:`django.shortcuts.render` with :func:`page_context` added: use it to render
    a template that extends ``wagtail_messenger/base.html``."""
    return django_render(
        request, template_name, {**page_context(request), **(context or {})}, status=status
    )
