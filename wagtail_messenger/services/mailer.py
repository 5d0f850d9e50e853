"""Rendering and sending notification emails (owned by the notifications work)."""


def send_message_notifications(message_id):
    raise NotImplementedError


def send_moderator_alert(event, message_id):
    raise NotImplementedError
