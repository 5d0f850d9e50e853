"""Guest rate limits, counted in a shared cache (Redis) per IP and per email."""

import pytest

from wagtail_messenger.exceptions import RateLimited
from wagtail_messenger.models import MessengerSettings
from wagtail_messenger.services import ratelimit


def conf(**values):
    return MessengerSettings(**{"guest_messages_per_hour": 3, "guest_threads_per_day": 2, **values})


def test_messages_per_hour_per_ip_and_per_email(redis_cache):
    c = conf()
    for _ in range(3):
        ratelimit.check_guest(c, ip="10.0.0.1", email="a@example.com", now=1000)
    with pytest.raises(RateLimited):
        ratelimit.check_guest(c, ip="10.0.0.1", email="b@example.com", now=1000)
    with pytest.raises(RateLimited):  # same email from another address
        ratelimit.check_guest(c, ip="10.0.0.2", email="A@example.com ", now=1000)
    ratelimit.check_guest(c, ip="10.0.0.3", email="c@example.com", now=1000)


def test_window_moves_on(redis_cache):
    c = conf(guest_messages_per_hour=1)
    ratelimit.check_guest(c, ip="10.0.0.1", now=0)
    with pytest.raises(RateLimited):
        ratelimit.check_guest(c, ip="10.0.0.1", now=10)
    ratelimit.check_guest(c, ip="10.0.0.1", now=3600)


def test_new_threads_per_day(redis_cache):
    c = conf(guest_messages_per_hour=0)
    ratelimit.check_guest(c, ip="10.0.0.9", new_thread=True, now=5)
    ratelimit.check_guest(c, ip="10.0.0.9", new_thread=True, now=6)
    with pytest.raises(RateLimited):
        ratelimit.check_guest(c, ip="10.0.0.9", new_thread=True, now=7)
    ratelimit.check_guest(c, ip="10.0.0.9", new_thread=False, now=8)  # replies still go


def test_zero_means_no_limit(redis_cache):
    c = conf(guest_messages_per_hour=0, guest_threads_per_day=0)
    for _ in range(50):
        ratelimit.check_guest(c, ip="10.0.0.1", email="a@example.com", new_thread=True, now=1)


def test_counts_are_shared_through_the_cache(redis_cache):
    c = conf(guest_messages_per_hour=2)
    ratelimit.check_guest(c, ip="10.1.1.1", now=100)
    key = ratelimit._key("message", "ip", "10.1.1.1", ratelimit.HOUR, 100)
    assert redis_cache.get(key) == 1  # another process reading Redis sees the count
    redis_cache.set(key, 2)
    with pytest.raises(RateLimited):
        ratelimit.check_guest(c, ip="10.1.1.1", now=100)


# -- What a visitor notices: accounts, proxies, email bombing (issue 20) -------------------

import time  # noqa: E402
from datetime import timedelta  # noqa: E402

from django.core import checks, mail  # noqa: E402
from django.utils import timezone  # noqa: E402

from wagtail_messenger import checks as messenger_checks  # noqa: E402
from wagtail_messenger.forms import new_key  # noqa: E402
from wagtail_messenger.models import Message, Thread  # noqa: E402
from wagtail_messenger.services.parties import Party  # noqa: E402


def site_conf(site, **values):
    c = MessengerSettings.for_site(site)
    for name, value in values.items():
        setattr(c, name, value)
    c.save()
    return c


def aged(user, days):
    type(user).objects.filter(pk=user.pk).update(date_joined=timezone.now() - timedelta(days=days))
    user.refresh_from_db()
    return user


def fresh_minute():
    """Fixed windows: start a burst early in a minute, so it cannot straddle two."""
    if time.time() % 60 > 40:
        time.sleep(60 - time.time() % 60 + 0.1)


def reply(client, thread, body, **headers):
    return client.post(thread.get_absolute_url(), {"body": body, "key": new_key()}, **headers)


@pytest.mark.django_db
class TestAccounts:
    def test_an_account_sending_25_rapid_messages_is_stopped_with_429(
        self, client, redis_cache, start, buyer, seller, listing, site
    ):
        site_conf(site)  # the defaults: 20 a minute, 6 for accounts younger than 3 days
        thread = start(aged(buyer, 30), seller, listing=listing).thread
        client.force_login(buyer)
        fresh_minute()
        answers = [reply(client, thread, f"Message {n}") for n in range(25)]
        codes = [a.status_code for a in answers]
        assert codes == [302] * 20 + [429] * 5  # before: 25 times 302
        refused = answers[-1]
        assert refused.status_code == 429
        assert 1 <= int(refused["Retry-After"]) <= 60
        assert "Nothing was sent" in refused.content.decode()
        assert Message.objects.filter(thread=thread, sender__user=buyer).count() == 21

    def test_the_fetch_path_gets_json_and_retry_after(
        self, client, redis_cache, start, buyer, seller, listing, site
    ):
        site_conf(site, new_account_messages_per_minute=1)
        thread = start(buyer, seller, listing=listing).thread
        client.force_login(buyer)
        fresh_minute()
        reply(client, thread, "one", HTTP_ACCEPT="application/json")
        answer = reply(client, thread, "two", HTTP_ACCEPT="application/json")
        assert answer.status_code == 429
        assert answer["Retry-After"].isdigit()
        assert "Too many messages" in answer.json()["error"]
        assert Message.objects.filter(thread=thread).count() == 2  # the first and "one"

    def test_new_accounts_have_lower_limits_than_old_ones(self, redis_cache, make_user, site):
        c = site_conf(site, new_account_messages_per_minute=2, account_messages_per_minute=4)
        new, old = make_user("newbie"), aged(make_user("oldie"), 10)
        for _ in range(2):
            ratelimit.check_account(c, new, now=100)
        with pytest.raises(RateLimited):
            ratelimit.check_account(c, new, now=100)
        for _ in range(4):
            ratelimit.check_account(c, old, now=100)
        with pytest.raises(RateLimited) as refused:
            ratelimit.check_account(c, old, now=100)
        assert refused.value.retry_after == 20  # the minute window ends at 120

    def test_moderators_and_staff_are_not_limited(self, redis_cache, moderator, make_user, site):
        c = site_conf(site, new_account_messages_per_minute=1, account_messages_per_minute=1)
        staff = make_user("staffer", is_staff=True)
        for _ in range(30):
            ratelimit.check_account(c, moderator, new_thread=True, now=5)
            ratelimit.check_account(c, staff, new_thread=True, now=5)

    def test_new_conversations_per_day_on_compose(
        self, client, redis_cache, buyer, make_listing, site
    ):
        site_conf(site, new_account_threads_per_day=2)
        client.force_login(buyer)
        pages = [make_listing(title=f"Bike {n}") for n in range(3)]
        codes = [
            client.post(
                f"/messages/new/{p.pk}/", {"body": "Available?", "key": new_key()}
            ).status_code
            for p in pages
        ]
        assert codes == [302, 302, 429]
        assert Thread.objects.count() == 2


@pytest.mark.django_db
class TestClientAddress:
    def proxied(self, rf, forwarded, remote="10.0.0.254", **extra):
        return rf.post("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded, **extra)

    def test_two_guests_behind_one_proxy_get_their_own_buckets(
        self, client, redis_cache, settings, start, seller, listing, site
    ):
        settings.WAGTAILMESSENGER_TRUSTED_PROXY_COUNT = 1
        site_conf(site, guest_messages_per_hour=2)
        threads = {}
        for email in ("ann@example.com", "bea@example.com"):
            threads[email] = start(Party.guest("G", email), seller, listing=listing).thread
        answers = {}
        for email, ip in (("ann@example.com", "203.0.113.1"), ("bea@example.com", "203.0.113.2")):
            session = client.session
            session["wagtail_messenger_guest_email"] = email
            session.save()
            answers[email] = [
                reply(
                    client, threads[email], "hi", REMOTE_ADDR="10.0.0.254", HTTP_X_FORWARDED_FOR=ip
                ).status_code
                for _ in range(2)
            ]
        # Each guest has their own two; before, both shared the proxy's 10.0.0.254.
        assert answers == {"ann@example.com": [302, 302], "bea@example.com": [302, 302]}

    def test_forged_leftmost_entries_are_ignored(self, rf, settings):
        settings.WAGTAILMESSENGER_TRUSTED_PROXY_COUNT = 1
        forged = self.proxied(rf, "1.2.3.4, 198.51.100.7")
        assert ratelimit.client_ip(forged) == "198.51.100.7"
        settings.WAGTAILMESSENGER_TRUSTED_PROXY_COUNT = 2
        assert ratelimit.client_ip(self.proxied(rf, "6.6.6.6, 198.51.100.7, 10.0.0.3")) == (
            "198.51.100.7"
        )

    def test_without_the_setting_forwarded_headers_are_not_trusted(self, rf):
        assert ratelimit.client_ip(self.proxied(rf, "1.2.3.4", remote="192.0.2.9")) == "192.0.2.9"

    def test_fewer_entries_than_proxies_falls_back_to_the_peer(self, rf, settings):
        settings.WAGTAILMESSENGER_TRUSTED_PROXY_COUNT = 2
        assert ratelimit.client_ip(self.proxied(rf, "1.2.3.4", remote="192.0.2.9")) == "192.0.2.9"

    def test_trusted_header_and_garbage(self, rf, settings):
        settings.WAGTAILMESSENGER_TRUSTED_CLIENT_IP_HEADER = "CF-Connecting-IP"
        request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_CF_CONNECTING_IP="2001:db8::5")
        assert ratelimit.client_ip(request) == "2001:db8::5"
        junk = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_CF_CONNECTING_IP="<script>")
        assert ratelimit.client_ip(junk) == "10.0.0.1"

    def test_ipv6_addresses_count_by_their_64(self):
        assert ratelimit.ip_bucket("2001:db8:1:2::1") == ratelimit.ip_bucket("2001:db8:1:2:ffff::9")
        assert ratelimit.ip_bucket("2001:db8:1:3::1") != ratelimit.ip_bucket("2001:db8:1:2::1")

    @pytest.mark.parametrize(
        ("count", "header", "expected"),
        [
            (-1, None, ["wagtail_messenger.E006"]),
            ("1", None, ["wagtail_messenger.E006"]),
            (True, None, ["wagtail_messenger.E006"]),
            (0, "HTTP_X_REAL_IP", ["wagtail_messenger.E007"]),
            (0, "X Real IP", ["wagtail_messenger.E007"]),
            (0, 7, ["wagtail_messenger.E007"]),
            (0, "X-Forwarded-For", ["wagtail_messenger.W002"]),
            (1, "X-Real-IP", []),
        ],
    )
    def test_system_check_for_nonsense(self, settings, count, header, expected):
        settings.WAGTAILMESSENGER_TRUSTED_PROXY_COUNT = count
        settings.WAGTAILMESSENGER_TRUSTED_CLIENT_IP_HEADER = header
        found = messenger_checks.check_trusted_proxies(None)
        assert [c.id for c in found] == expected
        assert all(isinstance(c, checks.CheckMessage) and c.hint for c in found)


@pytest.mark.django_db
class TestEmailBombing:
    def test_240_link_requests_from_many_ips_send_the_daily_cap(
        self, client, redis_cache, start, seller, listing, site, django_capture_on_commit_callbacks
    ):
        site_conf(site)  # 10 per IP per hour, 5 emails per address per day
        start(Party.guest("Gail", "gail@example.com"), seller, listing=listing)
        mail.outbox.clear()
        answers = set()
        with django_capture_on_commit_callbacks(execute=True):
            for n in range(240):
                response = client.post(
                    "/messages/link/",
                    {"email": "gail@example.com"},
                    REMOTE_ADDR=f"198.51.{n // 200}.{n % 200 + 1}",
                    follow=True,
                )
                assert response.status_code == 200
                answers.add(response.content.decode().count("If this address has conversations"))
        assert len([m for m in mail.outbox if "gail@example.com" in m.to]) == 5
        assert answers == {1}  # the same answer every time: nothing revealed

    def test_the_cap_counts_a_hash_not_the_address(self, redis_cache, site):
        c = site_conf(site, guest_link_emails_per_day=1)
        assert ratelimit.link_email_allowed(c, "Gail@Example.com", now=10)
        assert not ratelimit.link_email_allowed(c, "gail@example.com", now=20)
        keys = redis_cache._cache.get_client().keys("*")
        assert keys and not any(b"gail" in key for key in keys)
        assert ratelimit.link_email_allowed(c, "gail@example.com", now=ratelimit.DAY + 5)

    def test_guest_compose_over_the_cap_is_refused_with_429(
        self, client, redis_cache, make_listing, site
    ):
        site_conf(site, guest_link_emails_per_day=2, guest_threads_per_day=0)
        pages = [make_listing(title=f"Lamp {n}") for n in range(3)]
        codes = []
        for n, page in enumerate(pages):
            response = client.post(
                f"/messages/new/{page.pk}/",
                {"name": "V", "email": "victim@example.com", "body": "Hi", "key": new_key()},
                REMOTE_ADDR=f"203.0.113.{n + 1}",
            )
            codes.append(response.status_code)
        assert codes == [302, 302, 429]
        assert "emailed to this address today" in response.content.decode()
        assert response["Retry-After"].isdigit()
        assert Thread.objects.count() == 2


@pytest.mark.django_db
def test_reports_are_limited_apart_from_messages(
    client, redis_cache, start, buyer, seller, listing, site
):
    site_conf(site, new_account_messages_per_minute=2)
    thread = start(seller, buyer, listing=listing).thread
    spam_ids = [
        start(seller, buyer, listing=listing, body=f"spam {n}").message.pk for n in range(3)
    ]
    client.force_login(buyer)
    fresh_minute()
    codes = [
        client.post(f"/messages/actions/message/{pk}/report/", {"reason": "spam"}).status_code
        for pk in spam_ids
    ]
    assert codes == [302, 302, 429]
    assert reply(client, thread, "I still may write").status_code == 302
