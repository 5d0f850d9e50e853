"""Every write goes to the write database: the posting paths run under a router that
sends reads to a replica (tests/routers.py) whose connection refuses to write.

What people do that writes: start a conversation (as a user and as a guest, whose
private link is emailed), reply (form post and fetch), read, flag, archive, mute, block
and unblock, remove and report a message, change preferences, use a guest link, send a
contact form, moderate (hide, release); with the immediate task backend the
notification emails are sent (and recorded) after each commit, under the same router.
"""

import re
from contextlib import contextmanager

import pytest
from django.core import mail
from django.db import connections
from django.test import override_settings

from sandbox.marketplace.models import ContactPage, FormField
from wagtail_messenger.forms import new_key
from wagtail_messenger.models import (
    Message,
    MessengerSettings,
    Participant,
    ProvenAddress,
    Report,
    Thread,
)

pytestmark = pytest.mark.django_db(databases=["default", "replica"], transaction=True)

WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\b", re.I)


class WroteToTheReplica(AssertionError):
    pass


@contextmanager
def reads_from_the_replica():
    """Reads through "replica", writes through "default"; a write sent to "replica"
    fails the test with the statement. (The data the tests start from is made before:
    Wagtail validates new pages by reading them back inside its own transaction.)"""

    def refuse_writes(execute, sql, params, many, context):
        if WRITES.match(sql):
            raise WroteToTheReplica(f"a write went to the read replica: {sql[:200]}")
        return execute(sql, params, many, context)

    replica = connections["replica"]
    if replica.vendor == "sqlite":
        # Both aliases share one in-memory database; without this its table locks would
        # make the replica wait for the primary's open transactions (SQLITE_LOCKED).
        with replica.cursor() as cursor:
            cursor.execute("PRAGMA read_uncommitted = true")
    with (
        override_settings(DATABASE_ROUTERS=["tests.routers.ReplicaRouter"]),
        replica.execute_wrapper(refuse_writes),
    ):
        yield


def test_people_writing_reading_and_tidying_up_write_to_the_primary(client, listing, seller, buyer):
    with reads_from_the_replica():
        people_write_read_and_tidy_up(client, listing, seller, buyer)


def people_write_read_and_tidy_up(client, listing, seller, buyer):
    compose = f"/messages/new/{listing.pk}/"
    # A guest writes; their private link is emailed (after commit) and opened.
    client.post(
        compose,
        {"name": "Gail", "email": "gail@example.com", "body": "Still for sale?", "key": new_key()},
    )
    (link,) = [m for m in mail.outbox if m.to == ["gail@example.com"]]
    path = re.search(r"https?://[^/\s]+(/messages/link/[\w-]+/)", link.body).group(1)
    thread = Thread.objects.get()
    assert client.get(path)["Location"] == thread.get_absolute_url()
    client.post(thread.get_absolute_url(), {"body": "With lights?", "key": new_key()})
    # A user writes, replies with fetch, and tidies up.
    client.logout()
    client.force_login(buyer)
    client.post(compose, {"body": "I'd like it too", "key": new_key()})
    mine = Thread.objects.exclude(pk=thread.pk).get()
    reply = client.post(
        mine.get_absolute_url(),
        {"body": "Tomorrow?", "key": new_key()},
        HTTP_ACCEPT="application/json",
    )
    assert reply.json()["ok"] is True
    for action in ("flag", "mute", "unmute", "archive", "unarchive", "unread", "trash", "restore"):
        client.post(f"/messages/actions/thread/{mine.pk}/{action}/")
    client.post("/messages/actions/bulk/", {"action": "read", "thread": [mine.pk]})
    tomorrow = mine.messages.get(body="Tomorrow?")
    client.post(f"/messages/actions/message/{tomorrow.pk}/remove/")
    client.post("/messages/preferences/", {"allow_contact": "on", "email_frequency": "round"})
    # The seller reads, answers, reports, blocks and unblocks.
    client.logout()
    client.force_login(seller)
    client.get(mine.get_absolute_url())
    client.post(mine.get_absolute_url(), {"body": "Yes, at 10", "key": new_key()})
    first = mine.messages.earliest("pk")
    client.post(f"/messages/actions/message/{first.pk}/report/", {"reason": "test"})
    other = Participant.objects.get(thread=mine, user=buyer)
    client.post(f"/messages/actions/person/{other.pk}/block/")
    client.post(f"/messages/actions/person/{other.pk}/unblock/")

    assert Message.objects.filter(thread=thread).count() == 2
    assert list(mine.messages.values_list("body", "state")) == [
        ("I'd like it too", "visible"),
        ("Tomorrow?", "removed"),
        ("Yes, at 10", "visible"),
    ]
    assert Report.objects.get().message == first
    notified = [m.to for m in mail.outbox if "Yes, at 10" in m.body]
    assert notified == [["buyer@example.com"]]


def test_contact_forms_and_moderators_write_to_the_primary(client, site, seller, moderator):
    conf = MessengerSettings.for_site(site)
    conf.contact_forms_deliver_messages = True
    conf.blocked_words = "casino"
    conf.spam_threshold = 1
    conf.save()
    page = site.root_page.add_child(
        instance=ContactPage(
            title="Contact",
            slug="contact",
            to_address="seller@example.com",
            thank_you_text="<p>Thanks</p>",
        )
    )
    for order, (label, kind) in enumerate([("Your name", "singleline"), ("Email", "email")]):
        FormField.objects.create(page=page, sort_order=order, label=label, field_type=kind)
    FormField.objects.create(page=page, sort_order=3, label="Message", field_type="multiline")
    # The seller proved the address once (an invitation): the form delivers to them.
    ProvenAddress.objects.record(seller, "seller@example.com")
    with reads_from_the_replica():
        contact_form_and_moderation(client, page, seller, moderator)


def contact_form_and_moderation(client, page, seller, moderator):
    client.post(page.url, {"your_name": "Gus", "email": "gus@example.com", "message": "Hi"})
    thread = Thread.objects.get(origin=Thread.Origin.CONTACT_FORM)
    client.force_login(seller)
    client.post(thread.get_absolute_url(), {"body": "Visit my casino", "key": new_key()})
    held = thread.messages.get(state=Message.State.HELD)

    client.force_login(moderator)
    from wagtail_messenger.services import moderation

    moderation.release_message(moderator, held.pk)
    moderation.hide_message(moderator, held.pk, reason="spam")
    held.refresh_from_db()
    assert held.state == Message.State.HIDDEN
    assert thread.participants.get(kind=Participant.Kind.GUEST).name == "Gus"
