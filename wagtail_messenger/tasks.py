"""Background tasks: thin, taking ids, calling the services. Enqueued on commit."""

from django_tasks import task


@task()
def notify_recipients(message_id):
    from .services import mailer

    mailer.send_message_notifications(message_id)


@task()
def notify_moderators(event, message_id):
    from .services import mailer

    mailer.send_moderator_alert(event, message_id)
