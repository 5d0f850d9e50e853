"""django-anymail's signals, connected in ``AppConfig.ready()`` when anymail is
installed (``pip install 'wagtail-messenger[email]'``; docs/email.md):

- ``inbound``: mail to a reply address, from any provider's inbound webhook, is posted
  in its conversation (``services/replies.py``);
- ``tracking``: hard bounces, complaints and rejections stop mail to that address
  (``services/suppression.py``).

Other receivers of the same signals (a project's own) see every event too: these only
act on what is theirs.
"""

from anymail.signals import inbound, tracking
from django.dispatch import receiver


@receiver(inbound, dispatch_uid="wagtail_messenger.replies")
def reply_received(sender, event, esp_name, **kwargs):
    from .services import replies

    replies.receive(event.message, esp_name=esp_name)


@receiver(tracking, dispatch_uid="wagtail_messenger.suppression")
def delivery_event(sender, event, esp_name, **kwargs):
    from .services import suppression

    suppression.record(event, esp_name=esp_name)
