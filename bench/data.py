"""A seeded marketplace-sized data set, written with bulk inserts through the plugin's
own models (no service calls: building 200,000 messages one by one would take hours).

- 1,000 users;
- one measured user with T threads of 10 messages each, grown in steps (100, 2,000,
  20,000) so each step reuses the rows of the one before;
- one thread of 1,000 messages between the measured user and a seller;
- filler threads between other users, so the messages table holds at least 100,000 rows
  whatever T is.
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
        User = get_user_model()
        password = make_password("bench")
        with transaction.atomic():
            User.objects.bulk_create(
                [
                    User(
                        username=f"user{i:04d}",
                        email=f"user{i:04d}@example.com",
                        first_name=f"User{i}",
                        password=password,
                    )
                    for i in range(user_count)
                ],
                batch_size=BATCH,
            )
        self.users = list(User.objects.order_by("pk"))
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
