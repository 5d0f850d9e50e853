"""Registrations into Wagtail only; the work lives in the named modules."""

from django.contrib.auth.models import Permission
from wagtail import hooks

from . import injection


@hooks.register("register_permissions")
def register_permissions():
    return Permission.objects.filter(
        content_type__app_label="wagtail_messenger", codename="moderate_thread"
    )


# Late order: Wagtail's view-restriction check (order 0) runs first and wraps this.
hooks.register("on_serve_page", injection.serve_page_hook, order=injection.HOOK_ORDER)


@hooks.register("wagtail_messenger_after_message_posted")
def invite_recipients_without_account(message):
    from .services import invitations

    invitations.message_delivered(message)
