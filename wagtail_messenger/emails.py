"""Rendering and sending the plugin's emails.

Every email is a template triple under ``templates/wagtail_messenger/emails/``:
``<name>_subject.txt``, ``<name>.txt`` and ``<name>.html`` (the HTML part is optional).
Links are built from ``WAGTAILMESSENGER_BASE_URL`` or the Wagtail ``Site``
(:func:`absolute_url`), never from a request's Host header, so a forged Host cannot
poison a link in someone's mailbox.
"""

import contextlib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template import Context, TemplateDoesNotExist
from django.template.backends.django import Template as DjangoTemplate
from django.template.loader import get_template, render_to_string
from wagtail.models import Site

from .conf import get_setting


def site_root_url(site=None):
    """``https://example.com``: ``WAGTAILMESSENGER_BASE_URL`` when the project sets it,
    else the root URL of ``site`` (or of the default site)."""
    base_url = get_setting("BASE_URL")
    if base_url:
        return base_url.rstrip("/")
    if site is None:
        site = Site.objects.filter(is_default_site=True).first()
    if site is not None:
        return site.root_url.rstrip("/")
    return getattr(settings, "WAGTAILADMIN_BASE_URL", "http://localhost").rstrip("/")


def absolute_url(path, site=None):
    return f"{site_root_url(site)}{path}"


def clean_header(value):
    """One line, no control characters: names and subjects come from users."""
    return " ".join(str(value).replace("\r", " ").replace("\n", " ").split())[:200]


def render_text(template_name, context):
    """Render a plain-text template without HTML escaping: a subject or a text part is
    not HTML, so ``<`` and ``&`` stay themselves (``{% autoescape off %}`` is no longer
    needed in them). The HTML part is rendered by :func:`render_to_string`, escaped.
    Templates of another engine (Jinja2) are rendered by that engine as they are."""
    template = get_template(template_name)
    if isinstance(template, DjangoTemplate):
        return template.template.render(Context(context, autoescape=False))
    return template.render(context)


def render_mail(template_name, context, *, to, headers=None, from_email=None):
    """Build (not send) an email from the template triple ``template_name``. Header
    values the templates render are still one line (:func:`clean_header`)."""
    prefix = f"wagtail_messenger/emails/{template_name}"
    subject = clean_header(render_text(f"{prefix}_subject.txt", context))
    text = render_text(f"{prefix}.txt", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=from_email or settings.DEFAULT_FROM_EMAIL,
        to=[to] if isinstance(to, str) else list(to),
        headers=headers or {},
    )
    with contextlib.suppress(TemplateDoesNotExist):  # the HTML part is optional
        message.attach_alternative(render_to_string(f"{prefix}.html", context), "text/html")
    return message
