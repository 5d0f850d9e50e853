import pytest
from django.contrib.auth.models import Group

from wagtail_messenger.actors import Actor
from wagtail_messenger.exceptions import NotAllowed
from wagtail_messenger.models import Participant, Thread
from wagtail_messenger.services import access, conversations, participation
from wagtail_messenger.services.parties import Party

pytestmark = pytest.mark.django_db


def test_stranger_sees_nothing(start, buyer, seller, make_user):
    posted = start(buyer, seller)
    stranger = Actor.for_user(make_user())
    assert not Thread.objects.visible_to(stranger).exists()
    with pytest.raises(NotAllowed):
        access.get_visible_thread(stranger, posted.thread.pk)


def test_participants_and_moderators_see_the_thread(start, buyer, seller, moderator):
    posted = start(buyer, seller)
    for user in (buyer, seller, moderator):
        assert access.get_visible_thread(Actor.for_user(user), posted.thread.pk) == posted.thread


def test_anonymous_sees_nothing(start, buyer, seller):
    start(buyer, seller)
    assert not Thread.objects.visible_to(Actor()).exists()


def test_guest_sees_only_their_own_threads(start, seller, make_user):
    mine = start(Party.guest("Gus", "gus@example.com"), seller).thread
    start(Party.guest("Other", "other@example.com"), seller)
    gus = Actor.for_guest("GUS@example.com ")
    assert list(Thread.objects.visible_to(gus)) == [mine]


def test_a_user_with_the_same_email_is_not_the_guest(start, seller, make_user):
    start(Party.guest("Gus", "gus@example.com"), seller)
    same_email = make_user("gus", email="gus@example.com")
    assert not Thread.objects.visible_to(Actor.for_user(same_email)).exists()


def test_team_members_share_a_thread(start, buyer, make_user):
    team = Group.objects.create(name="Support")
    alice, bob = make_user("alice"), make_user("bob")
    team.user_set.add(alice, bob)
    posted = start(buyer, Party.team(team))
    for member in (alice, bob):
        assert Thread.objects.visible_to(Actor.for_user(member)).get() == posted.thread
    participation.mark_read(Actor.for_user(alice), posted.thread.pk)
    assert posted.thread.participants.get(group=team).unread_count == 0, "read state is shared"
    conversations.post_message(actor=Actor.for_user(bob), thread=posted.thread, body="On it")
    assert posted.thread.messages.last().sender.kind == Participant.Kind.GROUP


def test_emptied_trash_hides_the_thread_for_that_person_only(start, buyer, seller):
    posted = start(buyer, seller)
    Participant.objects.filter(thread=posted.thread, user=seller).update(
        folder=Participant.Folder.DELETED
    )
    assert not Thread.objects.visible_to(Actor.for_user(seller)).exists()
    assert Thread.objects.visible_to(Actor.for_user(buyer)).exists()


def test_held_messages_are_seen_by_their_sender_and_moderators_only(
    start, site, buyer, seller, moderator
):
    from wagtail_messenger.models import Message, MessengerSettings

    MessengerSettings.objects.update_or_create(
        site=site, defaults={"blocked_words": "casino", "spam_threshold": 1}
    )
    posted = start(buyer, seller, body="Visit my casino")
    assert posted.message.state == Message.State.HELD
    thread = posted.thread
    assert access.visible_messages(Actor.for_user(buyer), thread).count() == 1
    assert access.visible_messages(Actor.for_user(seller), thread).count() == 0
    assert access.visible_messages(Actor.for_user(moderator), thread).count() == 1
    assert thread.participants.get(user=seller).unread_count == 0
