"""The service layer: the only code that writes threads and messages.

Views, admin actions, form hooks, tasks and commands call these functions; each runs in
one transaction and enforces who may do what. Errors are
:class:`wagtail_messenger.exceptions.MessengerError` subclasses whose text can be shown.
"""
