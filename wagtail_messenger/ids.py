"""Ids from URLs and forms: one rule for every id parameter.

An id is 1 to 19 ASCII digits no larger than the largest signed 64-bit integer (the
widest primary key on every supported database). Anything else (empty, blank, signed,
"1.5", "¹" or other Unicode digits that ``int()`` would take or choke on, a number past
what SQLite can bind) is not an id: views answer 404 or 400 with a message, never 500.
"""

import re

MAX_ID = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")


def parse_id(value, *, minimum=1):
    """``value`` as an int if it is an id (``>= minimum``), else ``None``."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value):
        number = int(value)
    else:
        return None
    return number if minimum <= number <= MAX_ID else None


def parse_ids(values, *, limit=None):
    """The ids among ``values`` (order kept, repeats and non-ids dropped)."""
    found = []
    for value in values:
        number = parse_id(value)
        if number is not None and number not in found:
            found.append(number)
            if limit is not None and len(found) >= limit:
                break
    return found


class IdConverter:
    """``<wm_id:thread_id>``: digits that fit in a 64-bit key; a longer number does not
    match the URL (404) instead of overflowing in the database driver."""

    regex = "[0-9]{1,19}"

    def to_python(self, value):
        number = parse_id(value, minimum=0)
        if number is None:
            raise ValueError(value)
        return number

    def to_url(self, value):
        return str(value)


CONVERTER = "wm_id"


def register_converter():
    """Register ``<wm_id:...>`` once (Django 6 refuses to register a name twice); called
    by the URL modules that use it (the front end's and the admin viewsets')."""
    from django.urls import converters, register_converter

    if CONVERTER not in converters.get_converters():
        register_converter(IdConverter, CONVERTER)
