"""Emailed links at rest: guest links, invitation links and mute links. No raw token is
in any database column, the stored ones are hashed, all of them expire, and an expired
link opens nothing."""

import hashlib
import json
import re
import time
from datetime import timedelta

import pytest
from django.apps import apps
from django.core import mail, signing
from django.db import models
from django.db.models import Q
from django.utils import timezone

from wagtail_messenger.actors import GUEST_SESSION_KEY
from wagtail_messenger.conf import get_setting
from wagtail_messenger.models import AccessToken
from wagtail_messenger.services import notifications

from .figures import record

pytestmark = pytest.mark.django_db
TOKEN_IN_LINK = re.compile(r"/messages/(?:link|claim|mute)/([^/\s\"'<>]+)/")


def columns_holding(raw):
    """``["app.Model.field", ...]``: every text column of every table that contains ``raw``."""
    found = []
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            where = f"{model._meta.label}.{field.attname}"
            rows = model._default_manager.all()
            if isinstance(field, models.JSONField):  # no "contains" on every database
                values = rows.values_list(field.attname, flat=True)
                if any(raw in json.dumps(value) for value in values):
                    found.append(where)
            elif isinstance(field, models.CharField | models.TextField) and (
                rows.filter(Q(**{f"{field.attname}__contains": raw})).exists()
            ):
                found.append(where)
    return found


def emailed_tokens(client, world, django_capture_on_commit_callbacks):
    """Raw tokens as people receive them: a guest asks for their link again, and a
    notification email (with its mute link) goes out, through the real code paths."""
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/messages/link/", {"email": "gail@example.com"})
    with django_capture_on_commit_callbacks(execute=True):
        from wagtail_messenger.actors import Actor
        from wagtail_messenger.services import conversations

        conversations.post_message(
            actor=Actor.for_user(world.users["seller"]), thread=world.threads["A"], body="News"
        )
    texts = []
    for message in mail.outbox:
        texts.append(message.body)
        texts += [content for content, _type in getattr(message, "alternatives", [])]
        texts += [str(value) for value in message.extra_headers.values()]
    return {token for text in texts for token in TOKEN_IN_LINK.findall(text)}


def test_no_raw_token_in_any_database_column(world, client, django_capture_on_commit_callbacks):
    tokens = emailed_tokens(client, world, django_capture_on_commit_callbacks)
    assert len(tokens) >= 2, "a guest link and a mute link were emailed"
    tokens |= {world.links[name] for name in ("guest", "invite")}
    tokens |= set(world.mute_tokens.values())
    stored = {token: columns_holding(token) for token in tokens}
    record(
        "tokens at rest",
        raw_tokens_searched=len(tokens),
        found_in_database=sum(map(bool, stored.values())),
    )
    assert not {token: where for token, where in stored.items() if where}


@pytest.mark.parametrize("name", ["guest", "invite"])
def test_stored_tokens_are_sha256_hashes(world, name):
    raw = world.links[name]
    row = AccessToken.objects.get(token_hash=hashlib.sha256(raw.encode()).hexdigest())
    assert raw not in row.token_hash
    assert len(raw) >= 32  # unguessable: 256 bits from secrets.token_urlsafe


@pytest.mark.parametrize(
    ("name", "setting", "url"),
    [("guest", "GUEST_LINK_MAX_AGE", "link"), ("invite", "INVITATION_MAX_AGE", "claim")],
)
def test_links_expire_and_stop_working(world, client, name, setting, url):
    raw = world.links[name]
    row = AccessToken.objects.get(token_hash=hashlib.sha256(raw.encode()).hexdigest())
    lifetime = row.expires_at - row.created_at
    assert abs(lifetime - get_setting(setting)) < timedelta(minutes=1)
    assert client.get(f"/messages/{url}/{raw}/").status_code == 302  # works while valid
    client.logout()
    AccessToken.objects.filter(pk=row.pk).update(expires_at=timezone.now())  # its hour came
    response = client.get(f"/messages/{url}/{raw}/")
    assert response.status_code in (404, 410)
    assert GUEST_SESSION_KEY not in client.session
    assert "wagtail_messenger_claim" not in client.session


def signed_at(value, seconds_ago):
    """A mute token as ``mute_token`` makes it, stamped ``seconds_ago``."""

    class Signer(signing.TimestampSigner):
        def timestamp(self):
            return signing.b62_encode(int(time.time() - seconds_ago))

    return Signer(salt=notifications.MUTE_SALT).sign_object(value)


def test_mute_links_expire(world, client):
    """A mute link is signed, not stored; it must still stop working once it is older
    than ``MUTE_LINK_MAX_AGE``: a mailbox leaked years later must not let anyone
    silence a conversation."""
    participant = world.participants[("A", "buyer")]
    assert client.get(f"/messages/mute/{notifications.mute_token(participant)}/").status_code == 200
    assert client.get(f"/messages/mute/{signed_at(participant.pk, 0)}/").status_code == 200
    too_old = get_setting("MUTE_LINK_MAX_AGE") + timedelta(minutes=1)
    stale = signed_at(participant.pk, too_old.total_seconds())
    response = client.post(f"/messages/mute/{stale}/", {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 404
    participant.refresh_from_db()
    assert not participant.muted
