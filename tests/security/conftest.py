"""Fixtures of the security suite, its Hypothesis profile and the figures it prints."""

import pytest
from hypothesis import HealthCheck, Phase, settings

from .figures import lines
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


def pytest_terminal_summary(terminalreporter):
    found = lines()
    if found:
        terminalreporter.section("security figures")
        for line in found:
            terminalreporter.write_line(line)
