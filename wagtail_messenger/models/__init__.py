from .access import AccessToken, ApiToken, ProvenAddress
from .mail import ReplyAddress, SuppressedAddress
from .messages import Attachment, Message, Notification
from .outbox import OutboxEmail
from .privacy import DataExport
from .safety import Ban, Block, ContactPreference, Report
from .settings import MessengerSettings
from .team import StaffNote
from .threads import Participant, Thread

__all__ = [
    "AccessToken",
    "ApiToken",
    "Attachment",
    "Ban",
    "Block",
    "ContactPreference",
    "DataExport",
    "Message",
    "MessengerSettings",
    "Notification",
    "OutboxEmail",
    "Participant",
    "ProvenAddress",
    "ReplyAddress",
    "Report",
    "StaffNote",
    "SuppressedAddress",
    "Thread",
]
