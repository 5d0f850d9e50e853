"""Fixtures of the security suite and its Hypothesis profile (the figures are printed
by ``pytest_terminal_summary`` in tests/conftest.py, which browser runs load too)."""

import pytest
from hypothesis import HealthCheck, Phase, settings

from .world import ACTORS, build_world

# Fixed seed, no example database: CI and every machine draw the same probes. No
# shrinking: a violation is recorded and the run goes on, so one failure lists them all.
settings.register_profile(
    "security",
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def world(site, listing_index, make_user):
    world = build_world(site, listing_index, make_user)
    world.clients = {actor: world.fresh_client(actor) for actor in ACTORS}
    return world
