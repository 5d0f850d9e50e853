"""The authorization matrix: every URL the plugin serves, as every kind of actor, aimed
at other people's threads, messages, attachments, participants and tokens.

Hypothesis draws the probes (fixed seed, ``derandomize``): a URL, a method, a target and
an actor. Each probe must be served when the rules allow it and refused otherwise, with
nothing written (database diff) and none of the secrets of threads the actor may not
read in the answer. Violations are collected so that one run lists all of them.
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from .figures import record
from .probing import send, verdict
from .recipes import ALLOW, DENY, RECIPES, served_urls
from .world import ACTORS

PROBES = 1050


def test_every_url_has_a_recipe():
    """A URL added to the plugin (front end or admin) without a probe recipe fails here."""
    known = {recipe.name for recipe in RECIPES}
    served = served_urls()
    assert served - known == set(), "URLs without a probe recipe in tests/security/recipes.py"
    assert known - served == set(), "recipes for URLs the plugin no longer serves"
    record("urls", served=len(served))


@pytest.mark.django_db
def test_authorization_matrix(world):
    probes, denied, violations, unauthorised = [], [], [], []

    @settings(settings.get_profile("security"), max_examples=PROBES)
    @given(st.data())
    def probe(data):
        recipe = data.draw(st.sampled_from(RECIPES), label="url")
        method = data.draw(st.sampled_from(recipe.methods), label="method")
        target = data.draw(st.sampled_from(recipe.targets(world)), label="target")
        actor = data.draw(st.sampled_from(ACTORS), label="actor")
        expected = recipe.expect(world, actor, target, method)
        # What the rules allow may write; everything else must write nothing.
        outcome = send(world, actor, recipe, target, method, watch=expected != ALLOW)
        probes.append((recipe.name, method, actor))
        if expected == DENY:
            denied.append(1)
        problem = verdict(expected, outcome)
        if problem and (expected != ALLOW or outcome.leaked):
            unauthorised.append(problem)
        if problem:
            violations.append(
                f"{method} {recipe.name} {target!r} as {actor} ({expected}): {problem}"
            )

    probe()
    urls = {name for name, _method, _actor in probes}
    record(
        "authorization",
        probes=len(probes),
        denied=len(denied),
        urls=len(urls),
        actors=len({a for _n, _m, a in probes}),
        unauthorised=len(unauthorised),
        wrongly_refused=len(violations) - len(unauthorised),
    )
    assert len(probes) >= 1000
    assert urls == {r.name for r in RECIPES}, "every URL was probed"
    assert not violations, "\n".join(sorted(set(violations)))
