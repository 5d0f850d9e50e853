"""Sending one probe: the request as an actor, inside a savepoint that is rolled back,
with the database compared before and after and the response searched for secrets."""

import copy
import json
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.core.cache import cache

from .recipes import ALLOW, DENY, NOOP, refused, served
from .world import diff, in_savepoint, snapshot


@dataclass
class Outcome:
    status: int
    changes: dict
    leaked: list
    response: object = field(repr=False, default=None)


def request(client, recipe, world, target, method, *, data=None, path=None, headers=None):
    data = recipe.data(world, target, method) if data is None else data
    path = path or recipe.path(world, target)
    extra = dict(headers or {})
    if recipe.json:
        extra["HTTP_ACCEPT"] = "application/json"
    if method in ("GET", "HEAD") or recipe.name.startswith("bulk:"):
        query = urlencode(data, doseq=True)
        url = f"{path}?{query}" if query else path
        if method == "POST":
            return client.post(url, {}, **extra)
        return client.generic(method, url, **extra)
    if recipe.json_body:
        return client.post(path, json.dumps(data), content_type="application/json", **extra)
    return client.post(path, data, **extra)


def body_of(response):
    if getattr(response, "streaming", False):
        return b""  # a file download: its bytes are the attachment, checked elsewhere
    return response.content


def send(world, actor, recipe, target, method, *, watch=True, **kwargs):
    """One request with everything it writes rolled back; cookies restored too."""
    client = world.clients[actor]
    world.baseline  # noqa: B018  (taken before the first probe)
    cookies = copy.deepcopy(client.cookies)

    def run():
        cache.clear()  # rate-limit counters and cached fragments start empty each time
        response = request(client, recipe, world, target, method, **kwargs)
        changes = diff(world.baseline, snapshot()) if watch else {}
        content = body_of(response)
        leaked = [s for s in world.hidden_secrets(actor) if s.encode() in content]
        return Outcome(response.status_code, changes, leaked, response)

    try:
        return in_savepoint(run)
    finally:
        client.cookies = cookies


def verdict(expected, outcome):
    """What is wrong with ``outcome`` when ``expected`` was the rule, or ``""``."""
    response = outcome.response
    problems = []
    if outcome.leaked:
        problems.append(f"showed {outcome.leaked}")
    if response.status_code >= 500:
        problems.append(f"answered {response.status_code}")
    elif expected == ALLOW and not served(response):
        problems.append(f"refused ({response.status_code} {response.get('Location', '')})")
    elif expected == DENY:
        if not refused(response):
            problems.append(f"served ({response.status_code} {response.get('Location', '')})")
        if outcome.changes:
            problems.append(f"wrote {outcome.changes}")
    elif expected == NOOP and outcome.changes:
        problems.append(f"wrote {outcome.changes}")
    return "; ".join(problems)
