"""The two queries every open page repeats, written once in SQL.

Every page shows the header total, and an open thread asks "anything new?" every few
seconds: nothing in the messenger runs more often. Built with the ORM, each costs about
0.3 ms of Python to assemble and compile, more than the database takes to answer and as
much as the session and the user of the request together. Here they are plain SQL over
the models' own table and column names (so a custom ``db_table`` still works), portable
between SQLite and PostgreSQL.

The poll finds a user's team rows through the user's groups inside its query
(``Actor.participant_sql``), so it makes no cache round trip; the header total uses the
cached team list (see ``unread_counters`` for why).

Their ORM twins stay the reference: ``Participant.objects.unread_total`` and
``Thread.objects.participating``; the tests compare the two on users, teams and guests.
"""

from django.db import connections, router

from .models import Message, Participant

# Only quoted table and column names are formatted into the SQL below (hence the
# "noqa: S608"); every value (ids, emails, folders, the limit) is a query parameter.


def _quoting(model):
    connection = connections[router.db_for_read(model)]
    quote = connection.ops.quote_name

    def column(name, model=model):
        return quote(model._meta.get_field(name).column)

    return connection, quote(model._meta.db_table), column


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
    if actor.user is not None:
        mine, params = f"{column('user')} = %s", [actor.user.pk]
        if actor.team_ids:
            marks = ", ".join(["%s"] * len(actor.team_ids))
            mine = f"({mine} OR {column('group')} IN ({marks}))"
            params += list(actor.team_ids)
    else:
        mine, params = actor.participant_sql(column, connection.ops.quote_name)
    sql = (
        f"SELECT {column('unread_count')} FROM {table}"  # noqa: S608
        f" WHERE {mine} AND {column('unread_count')} > 0 AND {column('folder')} IN (%s, %s)"
        f" ORDER BY {column('last_message_at')} DESC LIMIT %s"
    )
    folders = [Participant.Folder.INBOX.value, Participant.Folder.ARCHIVE.value]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *folders, limit])
        return [count for (count,) in cursor.fetchall()]


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
    with connection.cursor() as cursor:
        deleted = Participant.Folder.DELETED.value
        cursor.execute(sql, [thread_id, after, thread_id, *params, deleted])
        row = cursor.fetchone()
    return None if row is None else bool(row[0])
