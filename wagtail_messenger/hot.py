"""The two queries every open page repeats, written once in SQL.

Every page shows the header total, and an open thread asks "anything new?" every few
seconds: nothing in the messenger runs more often. Built with the ORM, each costs about
0.3 ms of Python to assemble and compile, more than the database takes to answer and as
much as the session and the user of the request together. Here they are plain SQL over
the models' own table and column names (so a custom ``db_table`` still works), portable
between SQLite and PostgreSQL.

A user's team rows are found through the user's groups inside each query
(``Actor.team_rows_sql``) rather than from the cached team list, so neither query makes
a cache round trip, which with a shared cache such as Redis would cost as much as the
query.

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

    For a user, the rows of their teams come from a second branch of the same query
    (``wm_part_group_inbox``, groups they belong to) rather than from the cached list
    of their teams: the header total is on every page of the site, and with a shared
    cache such as Redis asking it is a round trip as dear as the query."""
    connection, table, column = _quoting(Participant)
    folders = [Participant.Folder.INBOX.value, Participant.Folder.ARCHIVE.value]
    unread = (
        f"SELECT {column('unread_count')} AS n, {column('last_message_at')} AS t"  # noqa: S608
        f" FROM {table} WHERE {{rows}} AND {column('unread_count')} > 0"
        f" AND {column('folder')} IN (%s, %s)"
        f" ORDER BY {column('last_message_at')} DESC LIMIT %s"
    )
    quote = connection.ops.quote_name
    if actor.user is None:
        mine, params = actor.participant_sql(column, quote)
        sql = f"SELECT n FROM ({unread.format(rows=mine)}) AS found"  # noqa: S608
        params = [*params, *folders, limit]
    else:
        # The user's own rows and their teams' rows, each branch through its index.
        teams, team_params = actor.team_rows_sql(column, quote)
        own = unread.format(rows=f"{column('user')} = %s")
        sql = (
            f"SELECT n FROM (SELECT * FROM ({own}) AS own"  # noqa: S608
            f" UNION ALL SELECT * FROM ({unread.format(rows=teams)}) AS teams) AS found"
            " ORDER BY t DESC LIMIT %s"
        )
        params = [actor.user.pk, *folders, limit, *team_params, *folders, limit, limit]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
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
