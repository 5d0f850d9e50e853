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
