"""Front-end URLs: ``path("messages/", include("wagtail_messenger.urls"))``."""

from django.urls import path
from wagtail.utils.urlpatterns import decorate_urlpatterns

from . import ids
from .api import api
from .views import (
    account,
    actions,
    compose,
    errors,
    guests,
    inbox,
    invitations,
    preferences,
    privacy,
    threads,
)
from .views import attachments as attachment_views
from .views import mute as mute_views

app_name = "wagtail_messenger"

ids.register_converter()

urlpatterns = [
    # The inbox, its actions and preferences (views/inbox.py, actions.py, preferences.py).
    path("", inbox.inbox, name="inbox"),
    # Threads, compose, guests and the header widget (views/threads.py, compose.py, ...).
    path("<wm_id:thread_id>/", threads.thread_view, name="thread"),
    path("<wm_id:thread_id>/poll/", threads.poll, name="poll"),
    path("<wm_id:thread_id>/older/", threads.older, name="older"),
    path("<wm_id:thread_id>/read/", threads.mark_read, name="mark_read"),
    path("<wm_id:thread_id>/team/", threads.assign_team_member, name="assign_team_member"),
    path("new/<wm_id:page_id>/", compose.compose, name="compose"),
    path("new/<wm_id:page_id>/sent/", compose.compose_sent, name="compose_sent"),
    path("unread/", account.unread, name="unread"),
    path("link/", guests.request_link, name="request_link"),
    path("link/<str:token>/", guests.guest_link, name="guest_link"),
    path("preferences/", preferences.preferences, name="preferences"),
    path("data/", privacy.your_data, name="your_data"),
    path("data/export/", privacy.request_export, name="request_data_export"),
    path("data/export/<wm_id:export_id>/", privacy.download_export, name="data_export"),
    path("data/erase/", privacy.erase, name="erase_my_data"),
    path("actions/bulk/", actions.bulk_action, name="bulk_action"),
    path(
        "actions/thread/<wm_id:thread_id>/<slug:action>/",
        actions.thread_action,
        name="thread_action",
    ),
    path(
        "actions/message/<wm_id:message_id>/remove/",
        actions.remove_message,
        name="remove_message",
    ),
    path(
        "actions/message/<wm_id:message_id>/report/",
        actions.report_message,
        name="report_message",
    ),
    path("actions/person/<wm_id:participant_id>/block/", actions.block, name="block"),
    path("actions/person/<wm_id:participant_id>/unblock/", actions.unblock, name="unblock"),
    path("claim/", invitations.claim, name="claim"),
    path("claim/<str:token>/", invitations.claim_link, name="claim_link"),
    path("mute/<str:token>/", mute_views.mute, name="mute"),
    path("attachments/<wm_id:attachment_id>/", attachment_views.download, name="attachment"),
    # The headless JSON API (api.py, docs/api.md): OpenAPI schema at api/v1/openapi.json.
    path("api/v1/", api.urls),
]

# Every page and JSON answer here is one person's: ``Cache-Control: private, no-store``
# on all of them, and a clear page (or JSON) instead of a bare 500 when the database
# fails or the thread went away (views/errors.py).
urlpatterns = decorate_urlpatterns(urlpatterns, errors.private)
