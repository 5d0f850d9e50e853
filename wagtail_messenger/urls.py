"""Front-end URLs: ``path("messages/", include("wagtail_messenger.urls"))``."""

from django.urls import path  # noqa: F401

from .views import attachments as attachment_views
from .views import account, compose, guests, invitations, threads
from .views import mute as mute_views

app_name = "wagtail_messenger"

urlpatterns = [
    # Threads, compose, guests and the header widget (views/threads.py, compose.py, ...).
    path("<int:thread_id>/", threads.thread_view, name="thread"),
    path("<int:thread_id>/poll/", threads.poll, name="poll"),
    path("<int:thread_id>/older/", threads.older, name="older"),
    path("new/<int:page_id>/", compose.compose, name="compose"),
    path("new/<int:page_id>/sent/", compose.compose_sent, name="compose_sent"),
    path("unread/", account.unread, name="unread"),
    path("link/", guests.request_link, name="request_link"),
    path("link/<str:token>/", guests.guest_link, name="guest_link"),
    path("claim/", invitations.claim, name="claim"),
    path("claim/<str:token>/", invitations.claim_link, name="claim_link"),
    path("mute/<str:token>/", mute_views.mute, name="mute"),
    path("attachments/<int:attachment_id>/", attachment_views.download, name="attachment"),
]
