"""Signal handlers wired in ``AppConfig.ready()``."""

from django.db.models.signals import pre_delete
from django.dispatch import receiver
from wagtail.models import Page


@receiver(pre_delete)
def keep_listing_snapshot(sender, instance, **kwargs):
    """When a listing page goes away, its threads keep the title and URL they had."""
    if not isinstance(instance, Page):
        return
    from .models import Thread

    Thread.objects.filter(listing_id=instance.pk, listing_title="").update(
        listing_title=instance.title[:255]
    )
