"""Migration 0015 (daily summaries): the old "Email me about new messages" switch becomes
the choice of how often, and back."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from .test_migrations import APP, World, migrate

BEFORE = [(APP, "0014_reply_addresses_and_suppression")]
AFTER = [(APP, "0015_daily_summaries")]

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def old_apps():
    yield migrate(BEFORE)
    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes(APP))


def test_the_switch_becomes_a_frequency_and_back(old_apps):
    old = World(old_apps)
    quiet, keen, daily = old.user(), old.user(), old.user()
    Preference = old.model("ContactPreference")
    Preference.objects.create(user=quiet, email_notifications=False)
    Preference.objects.create(user=keen, email_notifications=True)
    Preference.objects.create(user=daily, email_notifications=True)

    new = World(migrate(AFTER))
    chosen = dict(new.model("ContactPreference").objects.values_list("user_id", "email_frequency"))
    assert chosen == {quiet.pk: "never", keen.pk: "", daily.pk: ""}, "ticked: the site's pace"
    new.model("ContactPreference").objects.filter(user_id=daily.pk).update(email_frequency="daily")

    back = World(migrate(BEFORE)).model("ContactPreference").objects
    switch = dict(back.values_list("user_id", "email_notifications"))
    assert switch == {quiet.pk: False, keen.pk: True, daily.pk: False}
