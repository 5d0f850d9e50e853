"""Every URL × every query, form and path parameter × a corpus of bad values: no answer
is a 5xx. Sent as somebody allowed to use the URL, so the values reach the views' own
code, not only the login check."""

import pytest

from .figures import record
from .probing import send
from .recipes import ALLOW, NOOP, RECIPES

pytestmark = pytest.mark.django_db

#: Repeated parameters (``?before=1&before=&before=x``) stand for "an array".
ARRAY = ("1", "", "x")
BAD_VALUES = (
    "",
    "0",
    "-1",
    "2147483648",
    "9223372036854775808",
    "1.5",
    "¹",
    "١٢٣",
    "ä\u200bß",
    "😀",
    "\x00",
    "A" * 20000,
    " 1 ",
    "' OR '1'='1",
    "\r\nSet-Cookie: x=1",
    ARRAY,
)


def fuzz_target(world, recipe, method):
    for target in recipe.targets(world):
        if recipe.expect(world, recipe.fuzz_actor, target, method) in (ALLOW, NOOP):
            return target
    return recipe.targets(world)[0]


def test_no_parameter_value_makes_a_5xx(world):
    failures, count = [], 0
    for recipe in RECIPES:
        actor = recipe.fuzz_actor
        for method in recipe.methods:
            target = fuzz_target(world, recipe, method)
            base = recipe.data(world, target, method)
            for name in recipe.params.get(method, []):
                for value in BAD_VALUES:
                    data = {**base, name: list(value) if value is ARRAY else value}
                    outcome = send(world, actor, recipe, target, method, data=data, watch=False)
                    count += 1
                    if outcome.status >= 500:
                        failures.append(f"{method} {recipe.name} {name}={value!r:.40}")
            if not recipe.path_param:
                continue
            for value in BAD_VALUES:
                if value is ARRAY:
                    continue
                path = recipe.path(world, target, path_value=value)
                outcome = send(world, actor, recipe, target, method, path=path, watch=False)
                count += 1
                if outcome.status >= 500:
                    failures.append(f"{method} {recipe.name} <{recipe.path_param}>={value!r:.40}")
    record("fuzz", requests=count, values=len(BAD_VALUES), answers_5xx=len(failures))
    assert count >= 1000
    assert not failures, f"{len(failures)} answers were 5xx:\n" + "\n".join(failures)
