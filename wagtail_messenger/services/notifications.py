"""Email notifications. The service layer calls these after commit; the work itself runs
in django-tasks (``wagtail_messenger.tasks``)."""


def message_delivered(message):
    """A message reached its recipients: enqueue their notification emails."""
    from ..tasks import notify_recipients

    notify_recipients.enqueue(message.pk)


def message_held(message):
    """A message was held as spam: tell moderators who asked to know."""
    from ..tasks import notify_moderators

    notify_moderators.enqueue("held", message.pk)


def message_reported(report):
    from ..tasks import notify_moderators

    notify_moderators.enqueue("reported", report.message_id)
