"""The queries the busiest pages repeat, written once in SQL.

Every page shows the header total, an open thread asks "anything new?" every few
seconds, and the inbox, the thread page and a reply are what people do all day. Built
with the ORM, each of their queries cost 0.2–0.8 ms of Python to assemble, compile and
turn into model objects: more than the database took to answer, and as much as the
session and the user of the request together. Here they are plain SQL over the models'
own table and column names (so a custom ``db_table`` still works), portable between
SQLite and PostgreSQL; where objects are wanted they are built with ``Model.from_db``.

The poll finds a user's team rows through the user's groups inside its query
(``Actor.participant_sql``), so it makes no cache round trip; the header total and the
inbox use the cached team list (see ``unread_counters`` for why).

The reads have ORM twins that stay the reference (named in their docstrings); the tests
in ``tests/test_hot_queries.py`` compare the two for users, team members, guests,
strangers and moderators. The delivery's writes are held to the behaviour the ORM
version had by the conversation tests. docs/performance.md (items 7 and 19–24) says
what each saved.
"""

import functools

from django.db import connections, router
from django.db.models import DateTimeField

from .models import Attachment, Ban, Block, Message, Participant, Thread

# Only quoted table and column names are formatted into the SQL below (hence the
# "noqa: S608"); every value (ids, emails, folders, the limit) is a query parameter.


def _quoting(model):
    connection = connections[router.db_for_read(model)]
    quote = connection.ops.quote_name

    def column(name, model=model):
        return quote(model._meta.get_field(name).column)

    return connection, quote(model._meta.db_table), column


def _all_columns(model, connection, alias=""):
    """The attribute names of ``model``'s columns (what ``Model.from_db`` takes) and the
    same columns quoted for a ``SELECT``, prefixed with ``alias.`` when given."""
    fields = model._meta.concrete_fields
    prefix = f"{alias}." if alias else ""
    quote = connection.ops.quote_name
    return [f.attname for f in fields], [f"{prefix}{quote(f.column)}" for f in fields]


def _marks(values):
    """One ``%s`` per value, for an ``IN (…)`` list."""
    return ", ".join(["%s"] * len(values))


def _rows(connection, sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _mine(actor, connection, column, prefix=""):
    """``Actor.participant_sql`` with a user's teams given by the cached team ids, so
    that the database can read the user's rows and each team's rows as index ranges
    (``participant_sql`` looks the teams up in the query, which suits a query narrowed
    to one thread)."""
    if actor.user is None:
        return actor.participant_sql(lambda name: prefix + column(name), connection.ops.quote_name)
    mine, params = f"{prefix}{column('user')} = %s", [actor.user.pk]
    if actor.team_ids:
        mine = f"({mine} OR {prefix}{column('group')} IN ({_marks(actor.team_ids)}))"
        params += list(actor.team_ids)
    return mine, params


def unread_counters(actor, limit):
    """The unread counters of the actor's inbox and archive rows that have any, latest
    first, at most ``limit`` of them: the partial index ``wm_part_user_unread`` holds
    them in that order, so the scan stops early.

    A user's team rows are matched by the cached team ids (``Actor.team_ids``, one
    cache request). Asking for them in the SQL would keep the scan from stopping early,
    and reading them in a second branch of the query (``UNION ALL``) cost PostgreSQL
    0.15 ms more to plan than the whole query takes to run (measured): more than a
    cache round trip even to Redis."""
    connection, table, column = _quoting(Participant)
    mine, params = _mine(actor, connection, column)
    sql = (
        f"SELECT {column('unread_count')} FROM {table}"  # noqa: S608
        f" WHERE {mine} AND {column('unread_count')} > 0 AND {column('folder')} IN (%s, %s)"
        f" ORDER BY {column('last_message_at')} DESC LIMIT %s"
    )
    folders = [Participant.Folder.INBOX.value, Participant.Folder.ARCHIVE.value]
    return [count for (count,) in _rows(connection, sql, [*params, *folders, limit])]


def poll_state(actor, thread_id, after):
    """For the poll: ``None`` when the actor takes no part in the thread (or left it),
    else whether a message newer than ``after`` exists. One indexed query."""
    connection, table, column = _quoting(Participant)
    mine, params = actor.participant_sql(column, connection.ops.quote_name)
    _, messages, message_column = _quoting(Message)
    sql = (
        f"SELECT EXISTS (SELECT 1 FROM {messages} WHERE {message_column('thread')} = %s"  # noqa: S608
        f" AND {message_column('id')} > %s)"
        f" FROM {table} WHERE {column('thread')} = %s AND {mine} AND {column('folder')} <> %s"
        f" LIMIT 1"
    )
    deleted = Participant.Folder.DELETED.value
    rows = _rows(connection, sql, [thread_id, after, thread_id, *params, deleted])
    return bool(rows[0][0]) if rows else None


#: What :func:`inbox_rows` returns for each row, in this order: the participant row's
#: own columns, then its thread's, then the thread's last message's (``None`` when the
#: thread has none yet). ``selectors.INBOX_ROW_PATHS`` names the same values for the
#: ORM, which the tests compare.
INBOX_COLUMNS = (
    *("id", "thread_id", "flagged", "muted", "unread_count", "peer_blocked"),
    *("last_message_at", "listing_id", "listing_title", "subject"),
    *("message_id", "message_sender_id", "message_body", "message_state", "message_at"),
)


def inbox_rows(
    actor, folder, *, flagged=False, unread=False, after=None, before=None, within=None, limit
):
    """One page of the actor's rows in ``folder`` as tuples of :data:`INBOX_COLUMNS`,
    in inbox order (blocked threads last, then latest activity first): the rows after
    the cursor ``after`` or, read backwards, before ``before`` (``(peer_blocked, time,
    id)``, the sort key of a row). ``within`` narrows to the row ids a subquery
    selects (``(sql, params)``; the search). One query through the participant index
    (``wm_part_user_inbox`` and its team and guest twins), whatever the inbox size.

    The ORM twin is ``selectors.inbox`` cut by the same cursors
    (``tests/test_hot_queries.py``)."""
    connection, participants, p = _quoting(Participant)
    _, threads, t = _quoting(Thread)
    _, messages, m = _quoting(Message)
    mine, params = _mine(actor, connection, p, prefix="p.")
    # A thread whose only message is held as spam has no last message yet: its
    # recipients do not see it until moderators release it (its starter does).
    started = f"(t.{t('last_message')} IS NOT NULL OR p.{p('is_initiator')})"
    where = [mine, f"p.{p('folder')} = %s", started]
    params.append(folder)
    if flagged:
        where.append(f"p.{p('flagged')}")
    if unread:
        where.append(f"p.{p('unread_count')} > 0")
    if within is not None:
        where.append(f"p.{p('id')} IN ({within[0]})")
        params += within[1]
    key = after if after is not None else before
    if key is not None:
        blocked, when, pk = key
        past = "<" if after is not None else ">"
        when = connection.ops.adapt_datetimefield_value(when)
        same_side = (
            f"p.{p('peer_blocked')} = %s AND (p.{p('last_message_at')} {past} %s"
            f" OR (p.{p('last_message_at')} = %s AND p.{p('id')} {past} %s))"
        )
        params += [blocked, when, when, pk]
        # Blocked rows come after all the others: the whole other side lies past an
        # unblocked key read forwards, and past a blocked key read backwards.
        if (after is not None) != blocked:
            where.append(f"({same_side} OR p.{p('peer_blocked')} = %s)")
            params.append(not blocked)
        else:
            where.append(f"({same_side})")
    order = ("ASC", "DESC", "DESC") if before is None else ("DESC", "ASC", "ASC")
    sql = (
        f"SELECT p.{p('id')}, p.{p('thread')}, p.{p('flagged')}, p.{p('muted')},"  # noqa: S608
        f" p.{p('unread_count')}, p.{p('peer_blocked')}, p.{p('last_message_at')},"
        f" t.{t('listing')}, t.{t('listing_title')}, t.{t('subject')},"
        f" m.{m('id')}, m.{m('sender')}, m.{m('body')}, m.{m('state')}, m.{m('created_at')}"
        f" FROM {participants} p INNER JOIN {threads} t ON t.{t('id')} = p.{p('thread')}"
        f" LEFT OUTER JOIN {messages} m ON m.{m('id')} = t.{t('last_message')}"
        f" WHERE {' AND '.join(where)}"
        f" ORDER BY p.{p('peer_blocked')} {order[0]}, p.{p('last_message_at')} {order[1]},"
        f" p.{p('id')} {order[2]} LIMIT %s"
    )
    rows = _rows(connection, sql, [*params, limit])
    aware = _datetimes(connection)
    rows = [(*r[:6], aware(r[6]), *r[7:14], aware(r[14])) for r in rows]
    return rows[::-1] if before is not None else rows


#: What :func:`people_of_threads` returns for each participant, in this order.
PERSON_COLUMNS = ("id", "thread_id", "kind", "user_id", "group_id", "name", "email")


def people_of_threads(thread_ids):
    """Every participant of these threads as tuples of :data:`PERSON_COLUMNS`, in the
    order they joined (the names beside an inbox row). One query on the thread column's
    index."""
    if not thread_ids:
        return []
    connection, table, column = _quoting(Participant)
    names = ", ".join(column(name) for name in PERSON_COLUMNS)
    sql = (
        f"SELECT {names} FROM {table} WHERE {column('thread')} IN ({_marks(thread_ids)})"  # noqa: S608
        f" ORDER BY {column('id')}"
    )
    return _rows(connection, sql, list(thread_ids))


def _datetimes(connection):
    """Make the datetimes of a plain cursor what the ORM would give: SQLite's come naive
    (in the connection's zone), PostgreSQL's already aware."""
    convert = getattr(connection.ops, "convert_datetimefield_value", None)
    if convert is None:
        return lambda value: value
    return lambda value: convert(value, None, connection)


#: What a message of a page shows, in the model's field order (``Model.from_db`` takes
#: them in that order); its other fields are left deferred.
PAGE_MESSAGE_FIELDS = ("id", "thread_id", "sender_id", "body", "created_at", "state")
PAGE_MESSAGE_FIELDS += ("moderation_reason",)
PAGE_ATTACHMENT_FIELDS = ("id", "message_id", "name", "size", "expired_at")


def message_page(thread_id, *, viewer_id=None, blocked=None, before_id=None, limit, senders):
    """The newest ``limit`` messages of a thread (those before ``before_id``), newest
    first, as ``Message`` instances built with ``Model.from_db`` from one plain query:
    the page's fields (:data:`PAGE_MESSAGE_FIELDS`, the rest deferred), the attachment
    joined (``message.attachment``, or ``Attachment.DoesNotExist``), the sender taken
    from ``senders`` (``{participant id: Participant}``, the thread's people, which the
    page has read already).

    ``viewer_id``: the reader's participant row; they see everything delivered and
    their own held messages, not what the people in ``blocked`` (``{participant id:
    blocked since}``) sent since. ``None``: everything (a moderator).

    The ORM twin is ``access.visible_messages`` (``tests/test_hot_queries.py``)."""
    connection, messages, m = _quoting(Message)
    _, attachments, a = _quoting(Attachment)
    where, params = [f"m.{m('thread')} = %s"], [thread_id]
    if viewer_id is not None:
        where.append(f"(m.{m('state')} <> %s OR m.{m('sender')} = %s)")
        params += [Message.State.HELD.value, viewer_id]
        for sender_id, since in (blocked or {}).items():
            where.append(f"NOT (m.{m('sender')} = %s AND m.{m('created_at')} >= %s)")
            params += [sender_id, connection.ops.adapt_datetimefield_value(since)]
    if before_id is not None:
        where.append(f"m.{m('id')} < %s")
        params.append(before_id)
    columns = [f"m.{m(name)}" for name in PAGE_MESSAGE_FIELDS]
    columns += [f"a.{a(name)}" for name in PAGE_ATTACHMENT_FIELDS]
    sql = (
        f"SELECT {', '.join(columns)} FROM {messages} m"  # noqa: S608
        f" LEFT OUTER JOIN {attachments} a ON a.{a('message')} = m.{m('id')}"
        f" WHERE {' AND '.join(where)} ORDER BY m.{m('id')} DESC LIMIT %s"
    )
    rows = _rows(connection, sql, [*params, limit])
    aware = _datetimes(connection)
    sender_field = Message._meta.get_field("sender")
    attachment_rel = Message._meta.get_field("attachment")
    split, found = len(PAGE_MESSAGE_FIELDS), []
    for row in rows:
        message = _instance(Message, connection, PAGE_MESSAGE_FIELDS, row[:split], aware)
        if message.sender_id in senders:  # always, unless a row was added meanwhile
            sender_field.set_cached_value(message, senders[message.sender_id])
        attachment = None
        if row[split] is not None:
            attachment = _instance(
                Attachment, connection, PAGE_ATTACHMENT_FIELDS, row[split:], aware
            )
        attachment_rel.set_cached_value(message, attachment)
        found.append(message)
    return found


def _instance(model, connection, names, values, aware):
    """``model.from_db`` over a plain cursor's ``values`` for the fields ``names`` (in
    the model's field order; others deferred), with datetimes made what the ORM gives."""
    values, datetimes = list(values), _datetime_attnames(model)
    for i, name in enumerate(names):
        if name in datetimes:
            values[i] = aware(values[i])
    return model.from_db(connection.alias, names, values)


@functools.cache
def _datetime_attnames(model):
    return {f.attname for f in model._meta.concrete_fields if isinstance(f, DateTimeField)}


def thread_and_people(thread_id):
    """The thread (``None`` if there is none) and all its participants in the order
    they joined, from one query: the thread's columns joined to each participant row.
    What a thread page starts from; the site and the listing are left to load when
    asked for (``services.settings.for_site_id`` serves the settings by the site's id).

    The ORM twin: ``Thread.objects.get`` and ``thread.participants.order_by("pk")``."""
    connection, threads, t = _quoting(Thread)
    _, participants, p = _quoting(Participant)
    thread_fields, thread_columns = _all_columns(Thread, connection, "t")
    people_fields, people_columns = _all_columns(Participant, connection, "p")
    columns = thread_columns + people_columns
    sql = (
        f"SELECT {', '.join(columns)} FROM {threads} t"  # noqa: S608
        f" LEFT OUTER JOIN {participants} p ON p.{p('thread')} = t.{t('id')}"
        f" WHERE t.{t('id')} = %s ORDER BY p.{p('id')}"
    )
    rows = _rows(connection, sql, [thread_id])
    if not rows:
        return None, []
    aware, split = _datetimes(connection), len(thread_fields)
    thread = _instance(Thread, connection, thread_fields, rows[0][:split], aware)
    people = [
        _instance(Participant, connection, people_fields, row[split:], aware)
        for row in rows
        if row[split] is not None
    ]
    return thread, people


def record_delivery(message, sender):
    """The two writes that make a message reach its thread (``conversations.deliver``):
    the thread's last message and count, then, in one ``UPDATE``, every live row the
    message reaches. People who block the sender are left as they were (no unread
    count, no move out of the archive, no new place at the top of their inbox); the
    others come back from the archive, move to the top and count one more unread; the
    sender's own counter goes to zero (writing in a thread means having read it).

    Plain SQL: the ORM spent longer building these two statements (a ``CASE`` per
    column and the blocks' subquery) than the database took to run them."""
    connection, threads, t = _quoting(Thread)
    _, participants, p = _quoting(Participant)
    _, blocks, b = _quoting(Block)
    now = connection.ops.adapt_datetimefield_value(message.created_at)
    if sender.user_id is not None:
        target, blocked = b("blocked_user"), sender.user_id
    else:
        target, blocked = b("blocked_email"), sender.email or "-"
    Folder = Participant.Folder
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {threads} SET {t('last_message')} = %s, {t('last_message_at')} = %s,"  # noqa: S608
            f" {t('message_count')} = {t('message_count')} + 1 WHERE {t('id')} = %s",
            [message.pk, now, message.thread_id],
        )
        cursor.execute(
            f"UPDATE {participants} SET"  # noqa: S608
            f" {p('folder')} = CASE WHEN {p('folder')} = %s THEN %s ELSE {p('folder')} END,"
            f" {p('last_message_at')} = %s,"
            f" {p('unread_count')} = CASE WHEN {p('id')} = %s THEN 0"
            f" ELSE {p('unread_count')} + 1 END,"
            f" {p('last_read_at')} = CASE WHEN {p('id')} = %s THEN %s"
            f" ELSE {p('last_read_at')} END"
            f" WHERE {p('thread')} = %s AND {p('folder')} <> %s AND ({p('id')} = %s"
            f" OR NOT EXISTS (SELECT 1 FROM {blocks} WHERE {b('blocker')} ="
            f" {participants}.{p('user')} AND {target} = %s))",
            [
                *(Folder.ARCHIVE.value, Folder.INBOX.value, now, sender.pk, sender.pk, now),
                *(message.thread_id, Folder.DELETED.value, sender.pk, blocked),
            ],
        )


def same_text_threads(sender, thread_id, body, since):
    """How many threads other than ``thread_id`` got ``body`` (compared without case)
    from the same person (``sender``'s account, or their guest address) since
    ``since``: the spam filter's duplicate check, which every message pays.

    The messages are found by their text first, through ``wm_msg_text_head`` (the
    ``TextHead`` expression, written out exactly as the index has it: SQLite uses an
    expression index only for the very same expression), then kept if the same person
    sent them. The ORM spelling took 0.5 ms to build on each message."""
    from .models.messages import TEXT_HEAD_LENGTH

    connection, messages, m = _quoting(Message)
    _, participants, p = _quoting(Participant)
    if sender.user_id is not None:
        same, params = f"{p('user')} = %s", [sender.user_id]
    else:
        same, params = f"{p('kind')} = %s AND {p('email')} = %s", [sender.kind, sender.email]
    body_column = f"{messages}.{m('body')}"
    sql = (
        f"SELECT COUNT(DISTINCT {messages}.{m('thread')}) FROM {messages}"  # noqa: S608
        f" WHERE UPPER(SUBSTR({body_column}, 1, {TEXT_HEAD_LENGTH}))"
        f" = UPPER(SUBSTR(%s, 1, {TEXT_HEAD_LENGTH}))"
        f" AND {messages}.{m('created_at')} >= %s"
        f" AND UPPER({body_column}) = UPPER(%s)"
        f" AND {messages}.{m('thread')} <> %s"
        f" AND EXISTS (SELECT 1 FROM {participants} WHERE {participants}.{p('id')} ="
        f" {messages}.{m('sender')} AND {same})"
    )
    since = connection.ops.adapt_datetimefield_value(since)
    ((count,),) = _rows(connection, sql, [body, since, body, thread_id, *params])
    return count


def contact_preference(user_id):
    """The user's saved ``ContactPreference`` or ``None``: one lookup by the unique user
    column, which the inbox header pays on every view (the ORM's ``first()`` took
    longer to build than to run)."""
    from .models import ContactPreference

    connection, table, column = _quoting(ContactPreference)
    fields, columns = _all_columns(ContactPreference, connection)
    sql = f"SELECT {', '.join(columns)} FROM {table} WHERE {column('user')} = %s"  # noqa: S608
    rows = _rows(connection, sql, [user_id])
    if not rows:
        return None
    return _instance(ContactPreference, connection, fields, rows[0], _datetimes(connection))


def blocks_held(blocker_id, user_ids, emails):
    """``(blocked user id, blocked email, since)`` of the blocks the user
    ``blocker_id`` holds against these accounts or guest addresses: the thread page's
    "whom does the reader block here?" (``access.blocked_among``), one lookup on the
    blocker's index."""
    connection, table, column = _quoting(Block)
    where, params = [], []
    if user_ids:
        where.append(f"{column('blocked_user')} IN ({_marks(user_ids)})")
        params += list(user_ids)
    if emails:
        where.append(f"{column('blocked_email')} IN ({_marks(emails)})")
        params += list(emails)
    if not where:
        return []
    sql = (
        f"SELECT {column('blocked_user')}, {column('blocked_email')}, {column('created_at')}"  # noqa: S608
        f" FROM {table} WHERE {column('blocker')} = %s AND ({' OR '.join(where)})"
    )
    rows = _rows(connection, sql, [blocker_id, *params])
    aware = _datetimes(connection)
    return [(user_id, email, aware(since)) for user_id, email, since in rows]


def is_banned(user_id, email):
    """Whether a site-wide ban covers this account or this address (compared without
    case): asked before every message is saved."""
    connection, table, column = _quoting(Ban)
    where, params = [], []
    if user_id:
        where.append(f"{column('user')} = %s")
        params.append(user_id)
    if email:
        where.append(f"UPPER({column('email')}) = UPPER(%s)")
        params.append(email)
    if not where:
        return False
    sql = f"SELECT 1 FROM {table} WHERE {' OR '.join(where)} LIMIT 1"  # noqa: S608
    return bool(_rows(connection, sql, params))
