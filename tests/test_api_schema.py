"""The JSON API fuzzed against its own OpenAPI schema (schemathesis): for every
operation, generated parameters and bodies, valid and not, as a signed-in participant
(token auth, so the fuzzer needs no CSRF token) over a small world of threads. Every
answer must be declared by the schema for its operation, match the declared body and
content type, and never be a 5xx."""

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from wagtail_messenger.api import api
from wagtail_messenger.models import ApiToken

from .security.figures import record

SCHEMA = schemathesis.openapi.from_dict(api.get_openapi_schema(path_params={}))
APP = WSGIHandler()
FUZZED = {"requests": 0, "statuses": {}}


@pytest.fixture
def world(db, send, start, buyer, seller, listing, django_settings_for_fuzzing):
    """A thread between the buyer and the seller; the seller's token."""
    thread = send(start, buyer, seller, listing=listing).thread
    _row, raw = ApiToken.objects.issue(seller, name="fuzz")
    return {"thread": thread, "token": raw}


@pytest.fixture
def django_settings_for_fuzzing(settings):
    settings.WAGTAILMESSENGER_API_RATE = None  # hundreds of requests from one person
    settings.WAGTAILMESSENGER_API_ANONYMOUS_RATE = None
    settings.ALLOWED_HOSTS = ["*"]
    # The WSGI handler would close the test's connection (and its transaction) after
    # each request, as Django's test client keeps it from doing.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield settings
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.slow
@SCHEMA.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_answers_as_its_schema_says(case, world):
    response = case.call(app=APP, headers={"Authorization": f"Bearer {world['token']}"})
    FUZZED["requests"] += 1
    FUZZED["statuses"][response.status_code] = FUZZED["statuses"].get(response.status_code, 0) + 1
    case.validate_response(response, excluded_checks=_EXCLUDED)
    record(
        "API fuzz (schemathesis)",
        requests=FUZZED["requests"],
        server_errors=sum(n for code, n in FUZZED["statuses"].items() if code >= 500),
    )


def _excluded():
    """Checks about what the fuzzer cannot know here: that a random id it made up
    should exist ("positive data acceptance") or that a bearer token it did not send
    would be ignored (it always sends ours)."""
    from schemathesis.specs.openapi import checks

    names = ("positive_data_acceptance", "ignored_auth", "missing_required_header")
    return [getattr(checks, name) for name in names if hasattr(checks, name)]


_EXCLUDED = _excluded()
