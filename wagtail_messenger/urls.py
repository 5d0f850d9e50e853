"""Front-end URLs: ``path("messages/", include("wagtail_messenger.urls"))``."""

from django.urls import path  # noqa: F401

app_name = "wagtail_messenger"

urlpatterns = []
