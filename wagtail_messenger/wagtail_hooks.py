"""Registrations into Wagtail only; the work lives in the named modules."""

from django.contrib.auth.models import Permission
from wagtail import hooks

from . import account_panels, injection, moderation_admin, viewsets

# Moderation: permission policies first (before Wagtail creates fallbacks), then the
# "Messenger" admin menu (threads, review queue, site-wide blocks), bulk actions on
# threads, the dashboard summary and the audit log actions.
viewsets.register_policies()
hooks.register("register_admin_viewset", viewsets.MessengerViewSetGroup)
for _bulk_action in moderation_admin.BULK_ACTIONS:
    hooks.register("register_bulk_action", _bulk_action)
hooks.register("construct_homepage_summary_items", moderation_admin.add_summary_items)
hooks.register("register_log_actions", moderation_admin.register_log_actions)
# Moderators opt in to alert emails from their admin account settings.
hooks.register("register_account_settings_panel", account_panels.panel)


@hooks.register("register_permissions")
def register_permissions():
    return Permission.objects.filter(
        content_type__app_label="wagtail_messenger", codename="moderate_thread"
    )


# Late order: Wagtail's view-restriction check (order 0) runs first and wraps this.
hooks.register("on_serve_page", injection.serve_page_hook, order=injection.HOOK_ORDER)
