"""Team inboxes (issue 21): which member answered for the team, and giving a team's
thread to one member of the group."""

import pytest
from django.contrib.auth.models import Group
from wagtail.models import ModelLogEntry

from wagtail_messenger.actors import Actor
from wagtail_messenger.exceptions import NotAllowed
from wagtail_messenger.models import Participant
from wagtail_messenger.services import conversations, team
from wagtail_messenger.services.parties import Party

pytestmark = pytest.mark.django_db


@pytest.fixture
def sales(make_user):
    group = Group.objects.create(name="Sales team")
    alice = make_user("alice", first_name="Alice")
    bob = make_user("bob", first_name="Bob")
    group.user_set.add(alice, bob)
    return group, alice, bob


@pytest.fixture
def team_thread(start, buyer, sales):
    group, alice, _ = sales
    thread = start(buyer, Party.team(group), body="Do you deliver?").thread
    conversations.post_message(actor=Actor.for_user(alice), thread=thread, body="Yes, on Fridays")
    return thread


def test_the_member_who_answered_is_shown_when_the_setting_allows(
    client, buyer, team_thread, settings
):
    client.force_login(buyer)
    page = client.get(f"/messages/{team_thread.pk}/").content.decode()
    assert "Yes, on Fridays" in page
    assert "Alice for Sales team" not in page  # off by default
    settings.WAGTAILMESSENGER_SHOW_TEAM_MEMBER = True
    page = client.get(f"/messages/{team_thread.pk}/").content.decode()
    assert "Alice for Sales team" in page


def test_a_teams_thread_goes_to_one_member_only(team_thread, sales, make_user):
    group, alice, bob = sales
    row = Participant.objects.get(thread=team_thread, group=group)
    team.assign_team_member(alice, row, bob.pk)
    row.refresh_from_db()
    assert row.assigned_member == bob
    assert ModelLogEntry.objects.filter(
        action=team.TEAM_ASSIGN, object_id=str(team_thread.pk)
    ).exists()
    outsider = make_user("mallory")
    with pytest.raises(NotAllowed):
        team.assign_team_member(alice, row, outsider.pk)  # not a member: refused
    with pytest.raises(NotAllowed):
        team.assign_team_member(outsider, row, alice.pk)  # not in the team: refused
    row.refresh_from_db()
    assert row.assigned_member == bob


def test_members_give_the_thread_to_a_member_on_the_thread_page(
    client, team_thread, sales, buyer, make_user
):
    group, alice, bob = sales
    url = f"/messages/{team_thread.pk}/team/"
    client.force_login(alice)
    page = client.get(f"/messages/{team_thread.pk}/").content.decode()
    assert "Handled by the whole team" in page
    response = client.post(url, {"member": bob.pk}, follow=True)
    assert "Handled by Bob" in response.content.decode()
    # Bob sees it too (the whole team does), and the buyer sees no such form.
    client.force_login(bob)
    assert "Handled by Bob" in client.get(f"/messages/{team_thread.pk}/").content.decode()
    # Only members can be chosen: an outsider's id, or something not an id, is a 400.
    outsider = make_user("mallory")
    assert client.post(url, {"member": outsider.pk}).status_code == 400
    assert client.post(url, {"member": "¹"}).status_code == 400
    row = Participant.objects.get(thread=team_thread, group=group)
    assert row.assigned_member == bob
    # The other party cannot use it (404, not 500), nor can a stranger; GET is refused.
    client.force_login(buyer)
    assert "Handled by" not in client.get(f"/messages/{team_thread.pk}/").content.decode()
    assert client.post(url, {"member": alice.pk}).status_code == 404
    client.force_login(outsider)
    assert client.post(url, {"member": outsider.pk}).status_code == 404
    client.force_login(alice)
    assert client.get(url).status_code == 405
    row.refresh_from_db()
    assert row.assigned_member == bob
