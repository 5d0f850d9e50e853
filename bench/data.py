"""Seed data for the benchmarks.

:class:`DataSet` (``bench/run.py``) is a marketplace-sized data set, written with bulk
inserts through the plugin's own models (no service calls: building 200,000 messages
one by one would take hours):

- 1,000 users;
- one measured user with T threads of 10 messages each, grown in steps (100, 2,000,
  20,000) so each step reuses the rows of the one before;
- one thread of 1,000 messages between the measured user and a seller;
- filler threads between other users, so the messages table holds at least 100,000 rows
  whatever T is.

:class:`Marketplace` (``bench/load.py``) is a small site built through the services, so
that every counter starts equal to a recount: listings owned by sellers, and threads
between the load's users.
"""

import random
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from wagtail_messenger.models import Message, Participant, Thread

BATCH = 2000
MESSAGES_PER_THREAD = 10
FILLER_MESSAGES = 100_000
PASSWORD = "bench"  # every seeded user's


def create_users(usernames, password=PASSWORD):
    """Users named ``usernames`` (email ``<name>@example.com``), in one bulk insert;
    returns them in that order."""
    User = get_user_model()
    hashed = make_password(password)
    with transaction.atomic():
        User.objects.bulk_create(
            [
                User(
                    username=name,
                    email=f"{name}@example.com",
                    first_name=name.capitalize(),
                    password=hashed,
                )
                for name in usernames
            ],
            batch_size=BATCH,
        )
    by_name = User.objects.in_bulk(list(usernames), field_name="username")
    return [by_name[name] for name in usernames]


def raise_limits(site, limit=30000):
    """Rate limits far above what a benchmark sends (still checked, so their cost is
    measured): the accounts are minutes old and write many times a minute."""
    from wagtail_messenger.models import MessengerSettings

    conf = MessengerSettings.for_site(site)
    for name in (
        "guest_messages_per_hour",
        "guest_threads_per_day",
        "account_messages_per_minute",
        "account_threads_per_day",
        "new_account_messages_per_minute",
        "new_account_threads_per_day",
    ):
        setattr(conf, name, limit)
    conf.save()


class DataSet:
    def __init__(self, seed=7):
        self.random = random.Random(seed)
        self.now = timezone.now()
        self.users = []
        self.me = None
        self.big_thread = None
        self.my_threads = 0
        self.site = None

    # -- building -------------------------------------------------------------------

    def build(self, user_count=1000):
        from wagtail.models import Site

        self.site = Site.objects.filter(is_default_site=True).first()
        raise_limits(self.site)
        create_users([f"user{i:04d}" for i in range(user_count)])
        self.users = list(get_user_model().objects.order_by("pk"))
        self.me = self.users[0]
        with transaction.atomic():
            self.big_thread = self._threads([(self.me, self.users[1])], 1000, offset=0)[0]
        others = self.users[2:]
        pairs = []
        while len(pairs) * MESSAGES_PER_THREAD < FILLER_MESSAGES:
            a, b = self.random.sample(others, 2)
            pairs.append((a, b))
        for start in range(0, len(pairs), 1000):
            with transaction.atomic():
                self._threads(pairs[start : start + 1000], MESSAGES_PER_THREAD, offset=start)

    def grow_to(self, threads):
        """Give the measured user ``threads`` threads (besides the 1,000-message one)."""
        missing = threads - self.my_threads
        partners = self.users[1:]
        for start in range(0, missing, 1000):
            count = min(1000, missing - start)
            pairs = [(self.me, self.random.choice(partners)) for _ in range(count)]
            with transaction.atomic():
                self._threads(pairs, MESSAGES_PER_THREAD, offset=self.my_threads + start)
        self.my_threads = threads

    def _threads(self, pairs, per_thread, offset):
        """Threads between each (a, b) pair, ``a`` having started them; returns them."""
        stamps = [self.now - timedelta(minutes=offset + i + 1) for i in range(len(pairs))]
        threads = Thread.objects.bulk_create(
            [
                Thread(
                    site=self.site,
                    subject=f"Question {offset + i}",
                    last_message_at=stamps[i],
                    message_count=per_thread,
                    last_seq=per_thread,
                )
                for i in range(len(pairs))
            ],
            batch_size=BATCH,
        )
        rows = []
        for thread, (a, b), stamp in zip(threads, pairs, stamps, strict=True):
            unread = self.random.choice([0, 0, 0, 1, 2])
            rows.append(
                Participant(
                    thread=thread,
                    kind="user",
                    user=a,
                    name=a.first_name,
                    email=a.email,
                    is_initiator=True,
                    last_message_at=stamp,
                    unread_count=unread,
                    last_read_at=stamp,
                )
            )
            rows.append(
                Participant(
                    thread=thread,
                    kind="user",
                    user=b,
                    name=b.first_name,
                    email=b.email,
                    last_message_at=stamp,
                    last_read_at=stamp,
                )
            )
        rows = Participant.objects.bulk_create(rows, batch_size=BATCH)
        messages = []
        for index, thread in enumerate(threads):
            first, second = rows[2 * index], rows[2 * index + 1]
            for j in range(per_thread):
                messages.append(
                    Message(
                        thread=thread,
                        sender=first if j % 2 == 0 else second,
                        body=f"Message {j} about item {offset + index}: is it still available?",
                        created_at=stamps[index] - timedelta(seconds=per_thread - j),
                        seq=j + 1,
                    )
                )
        Message.objects.bulk_create(messages, batch_size=BATCH)
        latest = Message.objects.filter(thread=OuterRef("pk")).order_by("-pk").values("pk")[:1]
        Thread.objects.filter(pk__in=[t.pk for t in threads]).update(
            last_message_id=Subquery(latest)
        )
        return threads


class Marketplace:
    """The load test's site, written through the services (``start_thread``,
    ``post_message``) so that every counter, notification and task is what the app makes.

    - a home page, a listing index, and one listing per seller (the seller owns it);
    - for each ``(buyer, seller, messages)`` of ``threads``: a thread about the seller's
      listing with ``messages`` messages, the buyer first, then in turns; each body
      starts with a token ``[seed t<i> m<j>]``, as the load's own messages start with
      theirs, so that an email's preview names the message it is about;
    - the site's settings: the Site record at ``hostname:port`` (emailed links), the
      guest rate limits raised far above what the load sends (every simulated guest
      comes from 127.0.0.1), the per-account limits too (a seller of the load answers a
      message every second or two, and every account is minutes old, so "new" by the
      site's rule), everything else at its default (notifications "no flood"; the cap of
      private-link emails per address, which a load guest, one address per visitor,
      reaches once; the guest forms' traps, which the load's guests pass as people do).
    """

    GUEST_LIMIT = 30000  # the fields are small integers

    def __init__(self, hostname="127.0.0.1", port=80):
        self.hostname, self.port = hostname, port
        self.site = None
        self.listings = {}  # seller username -> listing page

    def build(self, sellers, threads):
        self._pages(sellers)
        self.configure()
        made = []
        for index, (buyer, seller, count) in enumerate(threads):
            made.append(self._thread(index, buyer, seller, count))
        return made

    def _pages(self, sellers):
        from wagtail.models import Page, Site

        from sandbox.marketplace.models import HomePage, ListingIndexPage, ListingPage

        root = Page.get_first_root_node()
        home = root.add_child(instance=HomePage(title="Load Marketplace", slug="load-market"))
        site = Site.objects.filter(is_default_site=True).first()
        old_root = site.root_page if site else None
        if site is None:
            site = Site(is_default_site=True)
        site.hostname, site.port, site.root_page = self.hostname, self.port, home
        site.site_name = "Load Marketplace"
        site.save()
        if old_root is not None and old_root.specific_class is Page:
            old_root.delete()
        index = home.add_child(instance=ListingIndexPage(title="Listings", slug="listings"))
        for seller in sellers:
            self.listings[seller.username] = index.add_child(
                instance=ListingPage(
                    title=f"Bike of {seller.first_name}",
                    slug=f"bike-{seller.username}",
                    price="100.00",
                    location="Lyon",
                    owner=seller,
                )
            )
        self.site = site

    def configure(self):
        raise_limits(self.site, self.GUEST_LIMIT)

    def _thread(self, index, buyer, seller, count):
        from wagtail_messenger.actors import Actor
        from wagtail_messenger.services import conversations
        from wagtail_messenger.services.parties import Party

        listing = self.listings[seller.username]
        posted = conversations.start_thread(
            sender=Party.for_user(buyer),
            recipient=Party.for_user(seller),
            listing=listing,
            site=self.site,
            body=f"[seed t{index} m0] Hello, is the bike still for sale?",
        )
        thread = posted.thread
        for j in range(1, count):
            author = seller if j % 2 else buyer
            conversations.post_message(
                actor=Actor.for_user(author),
                thread=thread,
                body=f"[seed t{index} m{j}] Message {j} about the bike: when can we meet?",
            )
        return thread
