"""Read-side queries shared by pages, JSON endpoints, emails and exports, one module per
concern: :mod:`.inbox` (the conversation list, its search, the header total) and
:mod:`.threads` (a thread's messages and the poll). Each is an ORM query whose count
and cost do not depend on how many threads or messages exist."""

from .inbox import (
    UNREAD_TOTAL_LIMIT,
    InboxPage,
    InboxRow,
    LastMessage,
    Person,
    inbox_page,
    search_inbox,
    unread_total,
)
from .threads import MessagePage, message_page, messages_after, poll_state

__all__ = [
    "UNREAD_TOTAL_LIMIT",
    "InboxPage",
    "InboxRow",
    "LastMessage",
    "MessagePage",
    "Person",
    "inbox_page",
    "message_page",
    "messages_after",
    "poll_state",
    "search_inbox",
    "unread_total",
]
