"""Front-end URLs: ``path("messages/", include("wagtail_messenger.urls"))``."""

from django.urls import path  # noqa: F401

from .views import attachments as attachment_views
from .views import mute as mute_views

app_name = "wagtail_messenger"

urlpatterns = [
    path("mute/<str:token>/", mute_views.mute, name="mute"),
    path("attachments/<int:attachment_id>/", attachment_views.download, name="attachment"),
]
