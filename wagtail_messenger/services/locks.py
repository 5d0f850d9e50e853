"""Row locks that every supported database can take.

Wagtail runs on SQLite, PostgreSQL, MySQL and MariaDB, and Django's ``select_for_update``
options are not on all of them: MariaDB has no ``FOR UPDATE OF`` (Django raises
``NotSupportedError``), ``SKIP LOCKED`` needs MySQL 8.0.1 or MariaDB 10.6, and SQLite
takes no row locks (it runs one writer at a time; Django leaves the clause out). Every
lock of the service layer goes through :func:`locked`, which asks the connection the
query runs on (``router.db_for_write`` of its model, or its ``using()``) what it has.
"""

from django.db import connections


def locked(queryset, *, of=(), skip_locked=False):
    """``queryset.select_for_update(of=of, skip_locked=skip_locked)`` with the options
    the database has. On PostgreSQL (and MySQL 8) that is exactly what was asked.

    Without ``OF``, the rows the query joins (``select_related``) are locked with the
    model's own rows: more than asked, never less. Without ``SKIP LOCKED``, a row that
    another transaction holds is waited for instead of skipped, so callers check again
    under the lock what they locked the row for."""
    features = connections[queryset.select_for_update().db].features
    options = {}
    if of and features.has_select_for_update_of:
        options["of"] = of
    if skip_locked and features.has_select_for_update_skip_locked:
        options["skip_locked"] = True
    return queryset.select_for_update(**options)
