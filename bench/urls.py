"""The sandbox's URLs plus the two floors the operations are compared with."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.urls import path

from sandbox.urls import urlpatterns as sandbox_urlpatterns

FLOOR_BODY = b"<!doctype html><title>floor</title>" + b"x" * (2048 - 35)


def floor(request):
    """A fixed 2 KB response that touches no database."""
    return HttpResponse(FLOOR_BODY)


@login_required
def floor_auth(request):
    """The least a logged-in page can cost: the session and the user, nothing else."""
    return HttpResponse(FLOOR_BODY)


urlpatterns = [
    path("bench/floor/", floor, name="bench_floor"),
    path("bench/floor-auth/", floor_auth, name="bench_floor_auth"),
    *sandbox_urlpatterns,
]
