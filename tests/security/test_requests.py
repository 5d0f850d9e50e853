"""What holds for every request whoever sends it: GET and HEAD never write, private
answers are never cached, every POST needs its CSRF token (the RFC 8058 one-click mute
is the one exception and is authenticated by its token instead)."""

import pytest

from .figures import record
from .probing import send
from .recipes import ALLOW, BY_NAME, NOOP, RECIPES
from .world import ACTORS, PARTICIPATES, diff, in_savepoint, snapshot

pytestmark = pytest.mark.django_db

#: The one POST without a CSRF token: mail clients send it themselves (RFC 8058).
CSRF_EXEMPT = {"wagtail_messenger:mute"}


def targets_for(world, recipe, actor):
    """At most two targets: one the actor may use (where the rules allow any), and the
    first, so each URL is reached both as its owner and as a stranger."""
    found = recipe.targets(world)
    chosen = [found[0]]
    for method in recipe.methods:
        for target in found:
            if recipe.expect(world, actor, target, method) == ALLOW:
                if target not in chosen:
                    chosen.append(target)
                return chosen
    return chosen


def test_get_and_head_never_change_state(world):
    """GET and HEAD of every URL (GET alone where only POST is served), as every
    actor, on their own and other people's objects: the database diff is empty. Left
    out of the diff: sessions (logging in, a guest link, a flash notice), ``last_login``
    and an emailed link's first-use stamp (``IGNORED_COLUMNS`` in world.py says why)."""
    writes, count = [], 0
    for recipe in RECIPES:
        for actor in ACTORS:
            for target in targets_for(world, recipe, actor):
                # HEAD runs the GET code; on POST-only URLs both answer 405 alike.
                methods = ("GET", "HEAD") if "GET" in recipe.methods else ("GET",)
                for method in methods:
                    outcome = send(
                        world,
                        actor,
                        recipe,
                        target,
                        method,
                        data={} if "GET" not in recipe.methods else None,
                    )
                    count += 1
                    if outcome.status >= 500 or outcome.changes:
                        writes.append(
                            f"{method} {recipe.name} {target!r} as {actor}: "
                            f"{outcome.status} {str(outcome.changes)[:300]}"
                        )
    record("GET/HEAD", requests=count, wrote=len(writes))
    assert not writes, "\n".join(writes)


def an_allowed(world, recipe, method):
    """``(actor, target)`` the rules allow for ``method``: owners first, then moderators."""
    order = ["seller", "buyer", "guest", "team_member", "moderator", "admin", *ACTORS]
    for target in recipe.targets(world):
        for actor in order:
            if recipe.expect(world, actor, target, method) in (ALLOW, NOOP):
                return actor, target
    raise AssertionError(f"no actor may {method} {recipe.name}")


def test_private_answers_are_never_stored_by_caches(world):
    """Every page and JSON answer of the plugin and its admin screens, fetched by
    someone allowed to see it: ``Cache-Control`` has ``private`` and ``no-store``."""
    missing, count = [], 0
    for recipe in RECIPES:
        if "GET" not in recipe.methods:
            continue
        try:
            actor, target = an_allowed(world, recipe, "GET")
        except AssertionError:  # nobody may (the API's root, a 404): its refusal then
            actor, target = "seller", recipe.targets(world)[0]
        outcome = send(world, actor, recipe, target, "GET", watch=False)
        count += 1
        header = outcome.response.get("Cache-Control", "")
        words = {word.strip().split("=")[0] for word in header.lower().split(",")}
        if not {"private", "no-store"} <= words:
            missing.append(f"{recipe.name} as {actor} ({outcome.status}): {header!r}")
    record("cache headers", answers=count, without_private_no_store=len(missing))
    assert not missing, "\n".join(missing)


def test_every_post_needs_its_csrf_token(world):
    """Every POST endpoint, sent by somebody the rules allow but without the CSRF token,
    is refused with 403 and writes nothing."""
    accepted, count = [], 0
    for recipe in RECIPES:
        if "POST" not in recipe.methods or recipe.name in CSRF_EXEMPT:
            continue
        actor, target = an_allowed(world, recipe, "POST")
        client = world.fresh_client(actor, enforce_csrf_checks=True)
        world.clients["csrf"] = client
        outcome = send(world, "csrf", recipe, target, "POST")
        count += 1
        if outcome.status != 403 or outcome.changes:
            accepted.append(f"{recipe.name} as {actor}: {outcome.status} {outcome.changes}")
    record("CSRF", post_endpoints=count, accepted_without_token=len(accepted))
    assert count >= 15
    assert not accepted, "\n".join(accepted)


def test_one_click_mute_is_authenticated_by_its_token(world):
    """The RFC 8058 POST carries no CSRF token: it must work with the emailed token and
    change nothing with any other."""
    from wagtail_messenger.models import Participant

    recipe = BY_NAME["wagtail_messenger:mute"]
    client = world.fresh_client("anonymous", enforce_csrf_checks=True)
    world.clients["csrf"] = client
    row = world.participants[("A", "buyer")]
    token = world.mute_tokens[row.pk]
    forged = [token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "garbage", ""]
    for bad in forged[:2]:
        outcome = send(world, "csrf", recipe, bad, "POST")
        assert outcome.status == 404 and not outcome.changes, bad

    def mute():
        response = client.post(recipe.path(world, token), {"List-Unsubscribe": "One-Click"})
        return response.status_code, Participant.objects.get(pk=row.pk).muted

    assert in_savepoint(mute) == (200, True)
    assert PARTICIPATES["buyer"] == {"A"}


def test_diff_sees_a_write(world):
    """The diff the tests rely on does notice a change (else every "nothing written"
    above would pass for nothing)."""
    from wagtail_messenger.models import Participant

    world.baseline  # noqa: B018  (before the write)

    def write():
        Participant.objects.filter(pk=world.participants[("A", "buyer")].pk).update(muted=True)
        return diff(world.baseline, snapshot())

    assert "wagtail_messenger.Participant" in in_savepoint(write)
