from wagtail.models import Site

from ..models import MessengerSettings


def for_site(site=None, request=None):
    """Site settings for ``site`` (or the request's, or the default site)."""
    if request is not None:
        return MessengerSettings.for_request(request)
    if site is None:
        site = Site.objects.filter(is_default_site=True).first() or Site.objects.first()
    if site is None:
        return MessengerSettings()
    return MessengerSettings.for_site(site)
