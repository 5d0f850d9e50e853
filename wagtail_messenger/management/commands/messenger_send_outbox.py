"""The outbox's sweeper (``messenger_send_pending_notifications`` under its own name)."""

from .messenger_send_pending_notifications import Command  # noqa: F401
