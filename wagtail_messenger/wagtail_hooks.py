"""Registrations into Wagtail only; the work lives in the named modules."""

from django.contrib.auth.models import Permission
from wagtail import hooks


@hooks.register("register_permissions")
def register_permissions():
    return Permission.objects.filter(
        content_type__app_label="wagtail_messenger", codename="moderate_thread"
    )
