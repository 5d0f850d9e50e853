"""Exceptions raised by the service layer, each with a message a person understands."""

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _


class MessengerError(Exception):
    """Base class: ``str(error)`` is safe to show to the person who acted."""

    default_message = _("Your message could not be sent.")

    def __init__(self, message=None):
        self.message = message or self.default_message
        super().__init__(self.message)

    def __str__(self):
        return str(self.message)


class NotAllowed(MessengerError):
    """The actor may not do this (not a participant, thread closed, removal disabled...)."""

    default_message = _("You are not allowed to do that.")


class RecipientUnavailable(MessengerError):
    """The recipient does not accept new conversations (opted out or blocked you)."""

    default_message = _("This person does not accept messages at the moment.")


class InvalidMessage(MessengerError):
    """The message itself is not acceptable (empty, too long, ...)."""

    default_message = _("This message cannot be sent.")


class RateLimited(MessengerError):
    """Over a rate limit; ``retry_after`` is the number of seconds until it may work."""

    default_message = _("Too many messages in a short time. Please wait a little and try again.")

    def __init__(self, message=None, retry_after=60):
        super().__init__(message)
        self.retry_after = int(retry_after)


class MessengerDisabled(MessengerError):
    default_message = _("Messaging is turned off on this site.")


class InvalidLink(MessengerError):
    default_message = _(
        "This link is invalid or has expired. Ask for a new one with the email address you used."
    )


class AttachmentRejected(MessengerError):
    default_message = _("This file cannot be attached.")


class StorageUnavailable(MessengerError):
    default_message = _(
        "The file could not be stored right now. Your message was not sent; please try again."
    )


class MessengerConfigurationError(ImproperlyConfigured):
    """Raised for misconfiguration found at run time (checks catch most at start-up)."""


class MissingExtra(MessengerConfigurationError):
    def __init__(self, feature, extra):
        super().__init__(
            f"{feature} needs an optional dependency: pip install 'wagtail-messenger[{extra}]'"
        )
