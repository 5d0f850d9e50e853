"""The moderation panel in the Wagtail admin, built with Wagtail's own viewsets.

- **Threads**: every thread, searchable (people, emails, listing, message text),
  filterable, exportable to CSV/XLSX, with bulk actions (mark spam, close, delete) and an
  inspect view that shows the thread as its participants see it, with the moderation
  actions.
- **Review queue**: messages held as spam and messages with an open report; its menu
  label shows how many wait.
- **Site-wide blocks**: the senders moderators blocked, and lifting a block.

Everything needs the ``wagtail_messenger.moderate_thread`` permission (a "Moderators"
group with it and "Can access Wagtail admin" is enough); editors without it see none of
it. All writes go through :mod:`wagtail_messenger.services.moderation`.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db.models import Q
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from wagtail.admin.admin_url_finder import ModelAdminURLFinder
from wagtail.admin.menu import MenuItem
from wagtail.admin.ui.tables import Column, DateColumn, StatusTagColumn
from wagtail.admin.viewsets.base import ViewSet
from wagtail.admin.viewsets.model import ModelViewSet, ModelViewSetGroup
from wagtail.permission_policies.base import BasePermissionPolicy

from . import ids
from .models import Ban, Message, SuppressedAddress, Thread
from .services import moderation
from .views.moderation import (
    ThreadActionView,
    ThreadDeleteView,
    ThreadFilterSet,
    ThreadIndexView,
    ThreadInspectView,
    assignee_name,
    attention,
    people,
)
from .views.moderation_queue import (
    BanDeleteView,
    BanIndexView,
    QueueIndexView,
    SuppressionDeleteView,
    SuppressionIndexView,
)

try:  # Wagtail 8: policies live in a registry; 7.4 takes them from the viewset.
    from wagtail.permissions import register_permission_policy
except ImportError:  # pragma: no cover (Wagtail < 8)
    register_permission_policy = None


class ModerationPermissionPolicy(BasePermissionPolicy):
    """Moderators (``moderate_thread``) may view and delete; nobody adds or edits through
    the admin forms: threads and messages are written by the service layer only."""

    allowed_actions = {"view", "delete", "moderate"}

    def user_has_permission(self, user, action):
        return action in self.allowed_actions and moderation.is_moderator(user)

    def user_has_any_permission(self, user, actions):
        return any(self.user_has_permission(user, action) for action in actions)

    def users_with_any_permission(self, actions):
        User = get_user_model()
        if not set(actions) & self.allowed_actions:
            return User.objects.none()
        perm = Permission.objects.filter(
            content_type__app_label="wagtail_messenger", codename="moderate_thread"
        )
        return User.objects.filter(is_active=True).filter(
            Q(is_superuser=True)
            | Q(pk__in=User.objects.filter(user_permissions__in=perm).values("pk"))
            | Q(pk__in=User.objects.filter(groups__permissions__in=perm).values("pk"))
        )

    def users_with_permission(self, action):
        return self.users_with_any_permission([action])


POLICIES = {
    model: ModerationPermissionPolicy(model) for model in (Thread, Message, Ban, SuppressedAddress)
}


def register_policies():
    """Called at the top of ``wagtail_hooks.py`` (before Wagtail builds fallbacks)."""
    if register_permission_policy is not None:
        for model, policy in POLICIES.items():
            register_permission_policy(model, policy, exact_class=True)


class ModerationViewSetMixin:
    add_to_reference_index = False
    copy_view_enabled = False
    form_fields = []

    if register_permission_policy is None:  # pragma: no cover (Wagtail < 8)

        @cached_property
        def permission_policy(self):
            return POLICIES[self.model]

    def get_permissions_to_register(self):
        # ``moderate_thread`` is registered once, in wagtail_hooks.py.
        return Permission.objects.none()

    @cached_property
    def menu_item_class(self):
        def is_shown(item, request):
            return moderation.is_moderator(request.user)

        return type(f"{self.model.__name__}MenuItem", (MenuItem,), {"is_shown": is_shown})

    #: URL names the viewset keeps from ModelViewSet's (no add/edit forms).
    keep_urls = {"index", "index_results", "delete"}

    def get_common_view_kwargs(self, **kwargs):
        view_kwargs = super().get_common_view_kwargs(**kwargs)
        for name in ("add", "edit", "copy", "usage", "history", "inspect", "delete"):
            if name not in self.keep_urls:
                view_kwargs[f"{name}_url_name"] = None
        return view_kwargs

    def get_urlpatterns(self):
        return [p for p in super().get_urlpatterns() if p.name in self.keep_urls]

    @property
    def url_finder_class(self):
        """Where the audit log and other admin screens link an object to: a thread's
        inspect view (for moderators); nothing for objects without one."""
        inspect_url_name = self.get_url_name("inspect") if "inspect" in self.keep_urls else None

        class ModerationURLFinder(ModelAdminURLFinder):
            def construct_edit_url(self, instance):
                if inspect_url_name is None:
                    return None
                return reverse(inspect_url_name, args=[instance.pk])

            def get_edit_url(self, instance):
                if self.user is not None and not moderation.is_moderator(self.user):
                    return None
                return self.construct_edit_url(instance)

        return ModerationURLFinder


class ThreadViewSet(ModerationViewSetMixin, ModelViewSet):
    model = Thread
    name = "messenger_threads"
    url_prefix = "messenger/threads"
    icon = "mail"
    menu_label = _("Threads")
    index_view_class = ThreadIndexView
    inspect_view_class = ThreadInspectView
    delete_view_class = ThreadDeleteView
    inspect_view_enabled = True
    keep_urls = {"index", "index_results", "delete", "inspect", "history", "history_results"}
    list_per_page = 50
    list_display = [
        "title",
        Column("people", label=_("People"), accessor=people),
        StatusTagColumn(
            "status",
            label=_("Status"),
            accessor="get_status_display",
            sort_key="status",
            primary=lambda thread: thread.status == Thread.Status.OPEN,
        ),
        Column("message_count", label=_("Messages"), sort_key="message_count"),
        Column("attention", label=_("Waiting for review"), accessor=attention),
        Column("assignee", label=_("Assigned to"), accessor=assignee_name),
        DateColumn("last_message_at", label=_("Last message"), sort_key="last_message_at"),
    ]
    filterset_class = ThreadFilterSet
    list_export = [
        "id",
        "title",
        "site",
        "status",
        "participants",
        "message_count",
        "created_at",
        "last_message_at",
        "listing_url",
        "is_reported",
        "has_held",
    ]
    export_headings = {
        "id": _("ID"),
        "title": _("Title"),
        "participants": _("People"),
        "is_reported": _("Reported"),
        "has_held": _("Held as spam"),
    }
    export_filename = "messenger-threads"

    def get_inspect_view_kwargs(self, **kwargs):
        return super().get_inspect_view_kwargs(
            action_url_name=self.get_url_name("action"),
            history_url_name=self.get_url_name("history"),
            **kwargs,
        )

    @property
    def action_view(self):
        return ThreadActionView.as_view(inspect_url_name=self.get_url_name("inspect"))

    def get_urlpatterns(self):
        ids.register_converter()
        return [
            *super().get_urlpatterns(),
            path("action/<wm_id:pk>/", self.action_view, name="action"),
        ]


class QueueViewSet(ModerationViewSetMixin, ModelViewSet):
    model = Message
    name = "messenger_queue"
    url_prefix = "messenger/queue"
    icon = "warning"
    menu_label = _("Review queue")
    index_view_class = QueueIndexView
    keep_urls = {"index", "index_results"}

    def get_index_view_kwargs(self, **kwargs):
        return super().get_index_view_kwargs(
            thread_inspect_url_name="messenger_threads:inspect", **kwargs
        )

    @cached_property
    def menu_item_class(self):
        class QueueMenuItem(MenuItem):
            def is_shown(self, request):
                return moderation.is_moderator(request.user)

            def render_component(self, request):
                count = moderation.waiting_count()
                base = self.label
                if count:
                    self.label = _("%(label)s (%(count)d)") % {"label": base, "count": count}
                try:
                    return super().render_component(request)
                finally:
                    self.label = base

        return QueueMenuItem


class BanViewSet(ModerationViewSetMixin, ModelViewSet):
    model = Ban
    name = "messenger_bans"
    url_prefix = "messenger/blocks"
    icon = "lock"
    menu_label = _("Site-wide blocks")
    index_view_class = BanIndexView
    delete_view_class = BanDeleteView
    list_display = [
        "__str__",
        "reason",
        Column("created_by", label=_("Blocked by"), accessor="created_by"),
        DateColumn("created_at", label=_("Blocked"), sort_key="created_at"),
    ]


class SuppressionViewSet(ModerationViewSetMixin, ModelViewSet):
    """Addresses mail no longer goes to (hard bounces, complaints), and why; deleting
    one sends mail to it again."""

    model = SuppressedAddress
    name = "messenger_suppressed"
    url_prefix = "messenger/stopped-emails"
    icon = "mail"
    menu_label = _("Stopped emails")
    index_view_class = SuppressionIndexView
    delete_view_class = SuppressionDeleteView
    list_display = [
        "email",
        Column("reason", label=_("Reason"), accessor="get_reason_display"),
        "detail",
        "esp",
        Column("events", label=_("Reports"), accessor="events"),
        DateColumn("updated_at", label=_("Last reported"), sort_key="updated_at"),
    ]


class PrivacyViewSet(ViewSet):
    """Personal data: a person's data export produced by a moderator."""

    name = "messenger_privacy"
    url_prefix = "messenger/personal-data"
    icon = "lock"
    menu_label = _("Personal data")

    @cached_property
    def menu_item_class(self):
        def is_shown(item, request):
            return moderation.is_moderator(request.user)

        return type("PrivacyMenuItem", (MenuItem,), {"is_shown": is_shown})

    def get_urlpatterns(self):
        from .views import moderation_privacy

        ids.register_converter()
        return [
            path("", moderation_privacy.index, name="index"),
            path("<wm_id:pk>/download/", moderation_privacy.download, name="download"),
        ]


class MessengerViewSetGroup(ModelViewSetGroup):
    menu_label = _("Messenger")
    menu_icon = "mail"
    menu_name = "messenger"
    menu_order = 250
    items = (ThreadViewSet, QueueViewSet, BanViewSet, SuppressionViewSet, PrivacyViewSet)
