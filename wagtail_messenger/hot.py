"""The two queries every open page repeats, written once in SQL.

Every page shows the header total, and an open thread asks "anything new?" every few
seconds: nothing in the messenger runs more often. Built with the ORM, each costs about
0.3 ms of Python to assemble and compile, more than the database takes to answer and as
much as the session and the user of the request together. Here they are plain SQL over
the models' own table and column names (so a custom ``db_table`` still works), portable
between SQLite and PostgreSQL.

Their ORM twins stay the reference: ``Participant.objects.unread_total`` and
``Thread.objects.participating``; the tests compare the two on users, teams and guests.
"""

from django.contrib.auth import get_user_model
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
    if actor.user is None:
        mine, params = actor.participant_sql(column)
        sql = f"SELECT n FROM ({unread.format(rows=mine)}) AS found"  # noqa: S608
        params = [*params, *folders, limit]
    else:
        quote = connection.ops.quote_name
        groups = get_user_model()._meta.get_field("groups")
        own = f"{column('user')} = %s"
        teams = (
            f"{column('group')} IN (SELECT {quote(groups.m2m_reverse_name())}"  # noqa: S608
            f" FROM {quote(groups.m2m_db_table())} WHERE {quote(groups.m2m_column_name())} = %s)"
        )  # a team's row has no user, a user's row no group: the branches never overlap
        sql = (
            f"SELECT n FROM (SELECT * FROM ({unread.format(rows=own)}) AS own"  # noqa: S608
            f" UNION ALL SELECT * FROM ({unread.format(rows=teams)}) AS teams) AS found"
            " ORDER BY t DESC LIMIT %s"
        )
        user = actor.user.pk
        params = [user, *folders, limit, user, *folders, limit, limit]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [count for (count,) in cursor.fetchall()]


def _mine_in_one_thread(actor, quote, column):
    """Which rows of one thread are the actor's, as SQL: for a user, their own row or
    a row of a group they belong to, asked in the query itself. Narrowed to one thread
    (two or three rows) the group subquery costs the database nothing, and the request
    skips the cache round trip for the user's teams (``Actor.team_ids``), which a shared
    cache such as Redis makes as dear as the query. Guests: ``participant_sql``."""
    if actor.user is None:
        return actor.participant_sql(column)
    groups = get_user_model()._meta.get_field("groups")
    sql = (
        f"({column('user')} = %s OR {column('group')} IN"  # noqa: S608
        f" (SELECT {quote(groups.m2m_reverse_name())} FROM {quote(groups.m2m_db_table())}"
        f" WHERE {quote(groups.m2m_column_name())} = %s))"
    )
    return sql, [actor.user.pk, actor.user.pk]


def poll_state(actor, thread_id, after):
    """For the poll: ``None`` when the actor takes no part in the thread (or left it),
    else whether a message newer than ``after`` exists. One indexed query."""
    connection, table, column = _quoting(Participant)
    mine, params = _mine_in_one_thread(actor, connection.ops.quote_name, column)
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
