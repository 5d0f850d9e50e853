"""The consistency check of the load test (``bench/load.py``), run once the load has
stopped, the task worker has drained its queue and every poller has polled a last time.

It compares three independent records: what the clients were told and saw
(``bench/load_clients.Recorder``), the database, and the emails the SMTP sink received.
Every message body and so every email preview starts with a token (``[ref c3m12]``,
``[seed t4 m2]``), which is how a message is recognised in all three.

1. **Messages.** Every message a client was told was saved (a 302 to ``#m<id>``, a JSON
   ``ok`` with its id, a guest's 302 to "check your email") exists exactly once, in the
   thread it was posted to, from the person who posted it; both submits of a double
   submit were answered with the same id.
2. **Counters.** Each thread's ``message_count``, ``last_message`` and
   ``last_message_at`` equal a recount of its visible messages (count, the one with the
   highest delivery sequence number ``seq``, its time), and ``last_seq`` is at least the
   highest ``seq``; every participant's ``last_message_at`` equals the thread's, and
   their ``unread_count`` equals the number of visible messages from others (not from
   somebody they block, since the block) numbered after their ``last_read_seq``
   (``participation.unread_after``, the definition every writer of the counter uses).
3. **Emails.** See :func:`check_emails`.
4. **Polls.** Every visible message of a poller's thread numbered from the oldest one
   its page showed on is among what the page showed or a poll or reply added; the
   cursor is a sequence number, so a message missed is traced to what moved the cursor
   past its number.
"""

import re
from collections import Counter, defaultdict
from email import message_from_bytes, policy

TOKEN_RE = re.compile(r"\[(?:ref|seed) [^\]]+\]")
MUTE_RE = re.compile(r"/messages/mute/([^/>\s]+)/")
LINK_RE = re.compile(r"/messages/link/[^/\s]+/")


class Received:
    """One email at the sink: when it arrived, to whom, and its parsed form."""

    def __init__(self, at, recipients, data):
        self.at = at
        self.recipients = [r.lower() for r in recipients]
        self.message = message_from_bytes(data, policy=policy.default)
        body = self.message.get_body(preferencelist=("plain",))
        self.text = body.get_content() if body is not None else ""


def run_checks(recorder, received):
    from wagtail_messenger.models import Block, Message, Participant, Thread

    messages = list(
        Message.objects.values(
            "pk",
            "thread_id",
            "sender_id",
            "body",
            "state",
            "created_at",
            "idempotency_key",
            "seq",
        )
    )
    threads = {
        t["pk"]: t
        for t in Thread.objects.values(
            "pk", "message_count", "last_message_id", "last_message_at", "last_seq"
        )
    }
    people = {
        p["pk"]: p
        for p in Participant.objects.values(
            "pk",
            "thread_id",
            "kind",
            "user_id",
            "user__username",
            "user__email",
            "email",
            "unread_count",
            "last_read_at",
            "last_read_seq",
            "last_message_at",
        )
    }
    for message in messages:
        found = TOKEN_RE.match(message["body"])
        message["token"] = found.group(0) if found else None
    blocks = list(
        Block.objects.values("blocker_id", "blocked_user_id", "blocked_email", "created_at")
    )
    for person in people.values():
        mine = person["user_id"]
        person["blocks"] = [b for b in blocks if mine and b["blocker_id"] == mine]
    report = {
        "messages": check_messages(recorder, messages, threads, people),
        "counters": check_counters(messages, threads, people),
        "emails": check_emails(recorder, received, messages, people),
        "polls": check_polls(recorder, messages),
        "problems": list(recorder.problems),
    }
    report["lost"] = (
        report["messages"]["lost"]
        + report["emails"]["lost"]
        + report["emails"]["owed_by_rule_not_sent"]
    )
    report["duplicated"] = report["messages"]["duplicated"] + report["emails"]["duplicated"]
    return report


def actor_of(person):
    if person["kind"] == "user":
        return f"user:{person['user__username']}"
    return f"{person['kind']}:{person['email']}"


def check_messages(recorder, messages, threads, people):
    by_token = defaultdict(list)
    for message in messages:
        if message["token"]:
            by_token[message["token"]].append(message)
    lost, duplicated, wrong_answer, misplaced, held, doubles = [], 0, [], [], 0, 0
    told = set()
    for sent in recorder.sent:
        told.add(sent.token)
        doubles += sent.submits > 1
        rows = by_token.get(sent.token, [])
        if not rows:
            lost.append(sent.token)
            continue
        duplicated += len(rows) - 1
        row = rows[0]
        if sent.ids and set(sent.ids) != {row["pk"]}:
            wrong_answer.append((sent.token, sent.ids, [r["pk"] for r in rows]))
        sender = people.get(row["sender_id"])
        if sender is None or actor_of(sender) != sent.actor:
            misplaced.append((sent.token, "sender", sender and actor_of(sender)))
        if sent.thread_id is not None and row["thread_id"] != sent.thread_id:
            misplaced.append((sent.token, "thread", row["thread_id"]))
        held += row["state"] != "visible"
    unanswered = [u for u in recorder.unacknowledged if u[0] not in told]
    saved_unanswered = sum(1 for u in unanswered if by_token.get(u[0]))
    unknown = [
        t
        for t, rows in by_token.items()
        if t.startswith("[ref") and t not in told and not any(u[0] == t for u in unanswered)
    ]
    return {
        "told_saved": len(recorder.sent),
        "double_submits": doubles,
        "lost": len(lost),
        "lost_tokens": lost[:20],
        "duplicated": duplicated,
        "wrong_answer": len(wrong_answer),
        "wrong_answer_samples": wrong_answer[:10],
        "misplaced": len(misplaced),
        "misplaced_samples": misplaced[:10],
        "not_visible": held,
        "unanswered_submits": len(unanswered),
        "unanswered_but_saved": saved_unanswered,
        "unknown": len(unknown),
        "total_in_database": len(messages),
    }


def unread_of(person, visible, people):
    """The visible messages of ``person``'s thread they have not read: from somebody
    else, not from somebody they block (since the block), numbered after their read
    mark (``participation.unread_after``)."""

    def blocked(message):
        sender = people.get(message["sender_id"])
        if sender is None:
            return False
        address = (sender["user__email"] if sender["user_id"] else sender["email"]) or ""
        return any(
            message["created_at"] >= b["created_at"]
            and (
                (b["blocked_user_id"] and b["blocked_user_id"] == sender["user_id"])
                or (b["blocked_email"] and b["blocked_email"].lower() == address.lower())
            )
            for b in person["blocks"]
        )

    return [
        m
        for m in visible[person["thread_id"]]
        if m["sender_id"] != person["pk"]
        and m["seq"] is not None
        and m["seq"] > person["last_read_seq"]
        and not blocked(m)
    ]


def check_counters(messages, threads, people):
    visible = defaultdict(list)
    for message in messages:
        if message["state"] == "visible":
            visible[message["thread_id"]].append(message)
    bad = Counter()
    samples = []
    for pk, thread in threads.items():
        rows = visible[pk]
        unnumbered = [r["pk"] for r in rows if r["seq"] is None]
        if unnumbered:  # delivered, yet never numbered: no poll can bring it
            bad["visible_without_seq"] += len(unnumbered)
            samples.append(f"thread {pk}: visible messages without seq {unnumbered[:5]}")
        if thread["message_count"] != len(rows):
            bad["message_count"] += 1
            samples.append(f"thread {pk}: message_count {thread['message_count']} != {len(rows)}")
        if rows:
            newest = max(rows, key=lambda r: (r["seq"] is not None, r["seq"] or 0))
            newest_id, newest_at = newest["pk"], newest["created_at"]
            top_seq = max((r["seq"] or 0) for r in rows)
            if thread["last_seq"] < top_seq:
                bad["last_seq"] += 1
                samples.append(f"thread {pk}: last_seq {thread['last_seq']} < {top_seq}")
            if thread["last_message_id"] != newest_id:
                bad["last_message"] += 1
                samples.append(
                    f"thread {pk}: last_message {thread['last_message_id']} != {newest_id}"
                )
            if thread["last_message_at"] != newest_at:
                bad["last_message_at"] += 1
                samples.append(
                    f"thread {pk}: last_message_at {thread['last_message_at']} != {newest_at}"
                )
    for person in people.values():
        thread = threads[person["thread_id"]]
        expected = len(unread_of(person, visible, people))
        if person["unread_count"] != expected:
            bad["unread_count"] += 1
            samples.append(
                f"participant {person['pk']} ({actor_of(person)}, thread {person['thread_id']}): "
                f"unread {person['unread_count']} != {expected}"
            )
        if person["last_message_at"] != thread["last_message_at"]:
            bad["participant_last_message_at"] += 1
            samples.append(f"participant {person['pk']}: last_message_at differs from the thread's")
    return {
        "threads": len(threads),
        "participants": len(people),
        "mismatched": sum(bad.values()),
        "by_field": dict(bad),
        "samples": samples[:20],
    }


def check_emails(recorder, received, messages, people):
    """Every email owed was delivered exactly once.

    What is owed comes from the rules of ``docs/notifications.md``. Everybody in the
    load is a user with an address or a guest, none muted, opted out, blocked or in the
    trash, so the rules left are the site's mode ("no flood", the default) and "already
    read":

    - a guest who started a thread is owed exactly one private-link email;
    - a participant is owed an email about a message of someone else when, as the worker
      handles it, they have not read the thread since the message was sent and either
      were never emailed about the thread or have read it since their last email.

    Reads are not kept by the server, so the last rule is checked from both sides with
    what is known for certain:

    - **the ledger**: each ``Notification`` row (one per recipient and message, the
      app's own record of an email owed) has its outbox row
      (``OutboxEmail``, ``notification:<message>:<participant>``) in state ``sent``, and
      was delivered exactly once; the sink holds no notification the ledger does not.
      A row still ``pending`` (or missing) is lost; one ``dropped`` (no longer owed: the
      recipient read it, muted, left) is counted apart and must not be at the sink;
    - **nothing owed went unclaimed**: a participant with unread messages at the end
      (the recount of :func:`check_counters`, by sequence number) must have been emailed
      about a message numbered after their ``last_read_seq``: the first such message
      found them either never emailed or emailed before that read, or an email about a
      later one was claimed;
    - **no flood** (when the site's mode is "no flood"): between two emails to one
      participant about one thread there must be a request of theirs that could have
      marked it read (thread page, a poll that brought messages, a message of their
      own) ending after the first email's message was sent and starting before the
      second email arrived; none at all means a second email in one round. The two are
      taken in the order the ledger says they were claimed (several task workers may
      deliver them in another order), else in the order they arrived.

    Emails are matched to recipients by their one-click mute link (a signed participant
    id), to messages by the token in their preview, and are also counted by
    ``Message-ID`` (two deliveries of one email) and by recipient address.
    """
    from django.core import signing

    from wagtail_messenger.models import MessengerSettings, Notification, OutboxEmail
    from wagtail_messenger.services.notifications import MUTE_SALT

    by_token = {m["token"]: m for m in messages if m["token"]}
    by_pk = {m["pk"]: m for m in messages}
    message_ids = Counter(r.message["Message-ID"] for r in received)
    duplicated_ids = sum(n - 1 for n in message_ids.values() if n > 1)

    notifications = defaultdict(list)  # (participant, message pk) -> [Received]
    links = defaultdict(list)  # guest email -> [Received]
    wrong_recipient, unreadable, other = [], 0, 0
    for mail in received:
        unsubscribe = mail.message["List-Unsubscribe"]
        if unsubscribe:
            token = MUTE_RE.search(str(unsubscribe))
            found = TOKEN_RE.search(mail.text)
            try:
                participant = signing.loads(token.group(1), salt=MUTE_SALT) if token else None
            except signing.BadSignature:
                participant = None
            message = by_token.get(found.group(0)) if found else None
            if participant not in people or message is None:
                unreadable += 1
                continue
            person = people[participant]
            address = person["user__email"] if person["user_id"] else person["email"]
            address = (address or "").lower()
            if mail.recipients != [address]:
                wrong_recipient.append((participant, mail.recipients))
            notifications[participant, message["pk"]].append(mail)
        elif LINK_RE.search(mail.text):
            for address in mail.recipients:
                links[address].append(mail)
        else:
            other += 1

    same_message_twice = sum(len(v) - 1 for v in notifications.values() if len(v) > 1)

    ledger = list(Notification.objects.values("participant_id", "message_id", "created_at"))
    rows = {
        r["dedup_key"]: r
        for r in OutboxEmail.objects.filter(kind=OutboxEmail.Kind.NOTIFICATION).values(
            "dedup_key", "state", "last_error", "attempts"
        )
    }
    for entry in ledger:
        row = rows.get(f"notification:{entry['message_id']}:{entry['participant_id']}")
        entry["state"] = row["state"] if row else None
        entry["last_error"] = row["last_error"] if row else "no outbox row"
    Sent_ = OutboxEmail.State.SENT
    ledger_sent = {(n["participant_id"], n["message_id"]) for n in ledger if n["state"] == Sent_}
    ledger_dropped = {
        (n["participant_id"], n["message_id"])
        for n in ledger
        if n["state"] == OutboxEmail.State.DROPPED
    }
    ledger_unsent = [n for n in ledger if n["state"] not in (Sent_, OutboxEmail.State.DROPPED)]
    not_delivered = ledger_sent - set(notifications)
    not_in_ledger = set(notifications) - ledger_sent

    # Nothing owed went unclaimed.
    claimed = {(n["participant_id"], n["message_id"]): n["created_at"] for n in ledger}
    emailed = defaultdict(list)  # participant -> [(claimed or arrived, arrival, message)]
    for (participant, message_pk), mails in notifications.items():
        at = claimed.get((participant, message_pk))
        for mail in mails:
            order = at.timestamp() if at is not None else mail.at
            emailed[participant].append((order, mail.at, by_pk[message_pk]))
    visible = defaultdict(list)
    for message in messages:
        if message["state"] == "visible":
            visible[message["thread_id"]].append(message)
    unclaimed = []
    for person in people.values():
        if person["kind"] not in ("user", "guest"):
            continue
        mark = person["last_read_seq"]
        if unread_of(person, visible, people) and not any(
            (m["seq"] or 0) > mark for *_at, m in emailed[person["pk"]]
        ):
            unclaimed.append(person["pk"])

    # No flood: a read between any two emails of one round.
    reads = defaultdict(list)  # (actor, thread) -> [(start, end)]
    for actor, thread_id, start, end in recorder.reads:
        reads[actor, thread_id].append((start, end))
    for message in messages:
        person = people.get(message["sender_id"])
        if person is not None:
            at = message["created_at"].timestamp()
            reads[actor_of(person), message["thread_id"]].append((at, at))
    floods = []
    modes = set(MessengerSettings.objects.values_list("notification_mode", flat=True))
    round_rule = modes <= {MessengerSettings.NotificationMode.ROUND}  # the default
    for participant, mails in emailed.items() if round_rule else ():
        person = people[participant]
        # In the order they were claimed (with several task workers, emails may reach
        # the sink in another order); the second one's arrival is after its claim.
        mails.sort(key=lambda entry: entry[0])
        spans = reads[actor_of(person), person["thread_id"]]
        for (_o, _a, first), (_order, second_at, second) in zip(mails, mails[1:], strict=False):
            if first["pk"] == second["pk"]:
                continue  # counted as the same message twice
            sent_at = first["created_at"].timestamp()
            if not any(end > sent_at and start < second_at for start, end in spans):
                floods.append(participant)

    # Guest links: one per guest who was told their first message was saved.
    guests = {log.email.lower() for log in recorder.guests}
    link_missing = [g for g in guests if not links.get(g)]
    link_twice = sum(len(links[g]) - 1 for g in guests if len(links.get(g, [])) > 1)
    link_unasked = [a for a in links if a not in guests]
    # Each guest link is an outbox row too: one still pending at the end was not sent.
    link_rows = Counter(
        OutboxEmail.objects.filter(kind=OutboxEmail.Kind.GUEST_LINK).values_list("state", flat=True)
    )
    links_unsent = link_rows[OutboxEmail.State.PENDING]

    per_recipient = Counter()
    for mail in received:
        for address in mail.recipients:
            per_recipient[address] += 1
    lost = len(not_delivered) + len(ledger_unsent) + len(link_missing) + links_unsent
    duplicated = duplicated_ids + same_message_twice + len(floods) + link_twice
    return {
        "received": len(received),
        "notifications_received": sum(len(v) for v in notifications.values()),
        "guest_links_received": sum(len(v) for v in links.values()),
        "owed_ledger": len(ledger),
        "owed_guest_links": len(guests),
        "recipients": len(per_recipient),
        "most_to_one_recipient": max(per_recipient.values(), default=0),
        "lost": lost,
        "ledger_unsent": len(ledger_unsent),
        "ledger_unsent_errors": sorted({n.get("last_error", "") for n in ledger_unsent})[:5],
        "ledger_not_delivered": len(not_delivered),
        "ledger_dropped": len(ledger_dropped),
        "not_in_ledger": len(not_in_ledger),
        "guest_link_missing": len(link_missing),
        "guest_link_rows": dict(link_rows),
        "guest_link_rows_unsent": links_unsent,
        "owed_by_rule_not_sent": len(unclaimed),
        "duplicated": duplicated,
        "duplicate_message_ids": duplicated_ids,
        "same_message_twice": same_message_twice,
        "second_email_in_a_round": len(floods),
        "round_rule_checked": round_rule,
        "guest_link_twice": link_twice,
        "guest_link_unasked": len(link_unasked),
        "wrong_recipient": len(wrong_recipient),
        "unreadable": unreadable,
        "other": other,
    }


def check_polls(recorder, messages):
    visible = defaultdict(set)
    for message in messages:
        if message["state"] == "visible":
            visible[message["thread_id"]].add(message["pk"])
    created = {m["pk"]: m["created_at"].timestamp() for m in messages}
    seq = {m["pk"]: m["seq"] for m in messages}
    expected = missed = unexpected = redelivered = marks = 0
    samples, causes = [], Counter()
    for log in recorder.polls:
        marks += log.marks
        shown = [seq[pk] for pk in log.page_ids if seq.get(pk) is not None]
        oldest = min(shown, default=0)
        owed = {pk for pk in visible[log.thread_id] if (seq[pk] or 0) >= oldest}
        expected += len(owed)
        gone = owed - log.seen
        missed += len(gone)
        unexpected += len(log.seen - visible[log.thread_id])
        redelivered += log.redelivered
        for pk in sorted(gone):
            cause, detail = skipped_by(log, pk, seq.get(pk) or 0, created.get(pk))
            causes[cause.split(" (")[0]] += 1
            samples.append(f"{log.actor} thread {log.thread_id}: missed {pk}: {cause}; {detail}")
    return {
        "pollers": len(recorder.polls),
        "polls": sum(log.polls for log in recorder.polls),
        "expected": expected,
        "missed": missed,
        "unexpected": unexpected,
        "redelivered": redelivered,
        "read_marks": marks,
        "missed_because": dict(causes),
        "samples": samples[:10],
    }


def skipped_by(log, pk, number, created_at):
    """What moved the poller's cursor past message ``pk`` (sequence number ``number``)
    without showing it: ``(cause, detail)``."""
    for source, start, before, after, added, answer_cursor in log.moves:
        if before < number <= after:
            when = "before" if created_at is not None and created_at < start else "after"
            detail = f"cursor {before} -> {after}, added {added}, sent {when} the request began"
            if source == "own reply":
                return "the page's own reply moved the cursor past it", detail
            if added:
                return "a poll returned later messages without it", detail
            return f"a poll's answer cursor ({answer_cursor}) jumped past it", detail
    return "the cursor never passed it, yet the last poll did not return it", ""
