"""Front-end URLs: ``path("messages/", include("wagtail_messenger.urls"))``."""

from django.urls import path  # noqa: F401

from .views import account, actions, compose, guests, inbox, invitations, preferences, threads
from .views import attachments as attachment_views
from .views import mute as mute_views

app_name = "wagtail_messenger"

urlpatterns = [
    # The inbox, its actions and preferences (views/inbox.py, actions.py, preferences.py).
    path("", inbox.inbox, name="inbox"),
    # Threads, compose, guests and the header widget (views/threads.py, compose.py, ...).
    path("<int:thread_id>/", threads.thread_view, name="thread"),
    path("<int:thread_id>/poll/", threads.poll, name="poll"),
    path("<int:thread_id>/older/", threads.older, name="older"),
    path("<int:thread_id>/read/", threads.mark_read, name="mark_read"),
    path("new/<int:page_id>/", compose.compose, name="compose"),
    path("new/<int:page_id>/sent/", compose.compose_sent, name="compose_sent"),
    path("unread/", account.unread, name="unread"),
    path("link/", guests.request_link, name="request_link"),
    path("link/<str:token>/", guests.guest_link, name="guest_link"),
    path("preferences/", preferences.preferences, name="preferences"),
    path("actions/bulk/", actions.bulk_action, name="bulk_action"),
    path(
        "actions/thread/<int:thread_id>/<slug:action>/",
        actions.thread_action,
        name="thread_action",
    ),
    path(
        "actions/message/<int:message_id>/remove/",
        actions.remove_message,
        name="remove_message",
    ),
    path(
        "actions/message/<int:message_id>/report/",
        actions.report_message,
        name="report_message",
    ),
    path("actions/person/<int:participant_id>/block/", actions.block, name="block"),
    path("actions/person/<int:participant_id>/unblock/", actions.unblock, name="unblock"),
    path("claim/", invitations.claim, name="claim"),
    path("claim/<str:token>/", invitations.claim_link, name="claim_link"),
    path("mute/<str:token>/", mute_views.mute, name="mute"),
    path("attachments/<int:attachment_id>/", attachment_views.download, name="attachment"),
]
