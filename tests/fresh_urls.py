"""The URLs of a fresh ``wagtail start`` project with the messenger added as the README
says: the admin, the messenger and Wagtail's pages, and no login page of its own."""

from django.contrib.staticfiles.urls import staticfiles_urlpatterns
from django.urls import include, path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls

urlpatterns = [
    path("admin/", include(wagtailadmin_urls)),
    path("messages/", include("wagtail_messenger.urls")),
    *staticfiles_urlpatterns(),
    path("", include(wagtail_urls)),
]
