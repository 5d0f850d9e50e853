"""Guest links: unguessable, stored hashed, expiring, renewable, and gone from the URL
after first use; guests who log in with the same email keep their threads."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.cache import caches
from django.utils import timezone

from wagtail_messenger.actors import GUEST_SESSION_KEY
from wagtail_messenger.models import AccessToken, Participant, Thread
from wagtail_messenger.services import guests
from wagtail_messenger.services.parties import Party

LINK_RE = re.compile(r"https?://[^/\s]+(/messages/link/[\w-]+/)")


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    caches["default"].clear()


@pytest.fixture
def guest_thread(start, seller, listing):
    return start(Party.guest("Gail", "gail@example.com"), seller, listing=listing).thread


def link_path(thread, email="gail@example.com"):
    return LINK_RE.search(guests.issue_link(email, thread=thread)).group(1)


@pytest.mark.django_db
class TestLinks:
    def test_link_opens_the_thread_and_leaves_the_url(self, client, guest_thread):
        path = link_path(guest_thread)
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"] == guest_thread.get_absolute_url()
        assert path.split("/")[-2] not in response["Location"]
        assert response["Referrer-Policy"] == "no-referrer"
        assert client.session[GUEST_SESSION_KEY] == "gail@example.com"
        page = client.get(guest_thread.get_absolute_url())
        assert page.status_code == 200
        assert "Hello, is it still available?" in page.content.decode()

    def test_emailed_links_use_the_site_root_url(self, guest_thread, site):
        site.hostname, site.port = "market.example", 443
        site.save()
        guest_thread.site.refresh_from_db()
        assert guests.issue_link("gail@example.com", thread=guest_thread).startswith(
            "https://market.example/messages/link/"
        )

    def test_base_url_setting_wins_over_the_site_record(self, guest_thread, settings):
        # A fresh project's Site says localhost:80; the project names its public address.
        settings.WAGTAILMESSENGER_BASE_URL = "http://127.0.0.1:8000/"
        assert guests.issue_link("gail@example.com", thread=guest_thread).startswith(
            "http://127.0.0.1:8000/messages/link/"
        )

    def test_only_a_hash_is_stored(self, guest_thread):
        raw = link_path(guest_thread).split("/")[-2]
        assert len(raw) >= 40
        assert not AccessToken.objects.filter(token_hash=raw).exists()
        assert AccessToken.objects.get().token_hash != raw

    @pytest.mark.parametrize("change", ["tamper", "expire"])
    def test_expired_or_tampered_links_explain_and_offer_a_new_one(
        self, client, guest_thread, change
    ):
        path = link_path(guest_thread)
        if change == "tamper":
            path = path[:-3] + ("A" if path[-3] != "A" else "B") + path[-2:]
        else:
            AccessToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        response = client.get(path)
        html = response.content.decode()
        assert response.status_code == 410
        assert "invalid or has expired" in html
        assert 'action="/messages/link/"' in html
        assert GUEST_SESSION_KEY not in client.session

    def test_garbage_tokens_never_500(self, client):
        for token in ["x", "%00", "a" * 500, "../../etc"]:
            assert client.get(f"/messages/link/{token}/").status_code in (404, 410)

    def test_link_for_another_email_does_not_open_foreign_threads(
        self, client, guest_thread, start, seller, make_listing
    ):
        other = start(
            Party.guest("Oscar", "oscar@example.com"), seller, listing=make_listing("Lamp")
        ).thread
        client.get(link_path(guest_thread))
        assert client.get(other.get_absolute_url()).status_code == 404


@pytest.mark.django_db
class TestLostLink:
    def test_same_answer_for_known_and_unknown_addresses(
        self, client, guest_thread, django_capture_on_commit_callbacks
    ):
        answers = []
        for email in ["gail@example.com", "nobody@example.com"]:
            with django_capture_on_commit_callbacks(execute=True):
                response = client.post("/messages/link/", {"email": email}, follow=True)
            html = re.sub(r'name="csrfmiddlewaretoken" value="\w+"', "", response.content.decode())
            answers.append(html.replace(email, ""))
        assert answers[0] == answers[1]
        sent = [m for m in mail.outbox if "link" in m.body]
        assert [m.to for m in sent] == [["gail@example.com"]]

    def test_renewed_link_works_after_the_old_one_expired(
        self, client, guest_thread, django_capture_on_commit_callbacks
    ):
        old = link_path(guest_thread)
        AccessToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        with django_capture_on_commit_callbacks(execute=True):
            client.post("/messages/link/", {"email": "GAIL@example.com"})
        new = LINK_RE.search(mail.outbox[-1].body).group(1)
        assert new != old
        assert client.get(old).status_code == 410
        assert client.get(new)["Location"] == guest_thread.get_absolute_url()


@pytest.mark.django_db
class TestClaim:
    def test_guest_who_logs_in_with_the_same_email_keeps_their_threads(
        self, client, guest_thread, make_user
    ):
        user = make_user("gail", email="gail@example.com")
        client.get(link_path(guest_thread))
        assert client.login(username="gail", password="pw")
        row = Participant.objects.get(thread=guest_thread, is_initiator=True)
        assert (row.kind, row.user_id) == (Participant.Kind.USER, user.pk)
        client.logout()
        client.force_login(user)
        assert client.get(guest_thread.get_absolute_url()).status_code == 200

    def test_other_email_is_not_claimed(self, client, guest_thread, make_user):
        make_user("mallory", email="mallory@example.com")
        client.get(link_path(guest_thread))
        assert client.login(username="mallory", password="pw")
        row = Participant.objects.get(thread=guest_thread, is_initiator=True)
        assert row.kind == Participant.Kind.GUEST

    def test_claim_without_proof_does_nothing(self, client, guest_thread, make_user):
        make_user("gail", email="gail@example.com")
        assert client.login(username="gail", password="pw")  # never opened a link
        assert Participant.objects.get(thread=guest_thread, is_initiator=True).is_guest
        assert not Thread.objects.filter(participants__user__username="gail").exists()
