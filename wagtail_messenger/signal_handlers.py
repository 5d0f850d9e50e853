"""Signal handlers wired in ``AppConfig.ready()``."""

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete
from django.dispatch import receiver
from wagtail.models import Page
from wagtail.signals import page_published, page_unpublished

from . import teams


# ``sender=Page``: deleting any page type sends the signal for its ``Page`` row too. A
# receiver without a sender would make Django load and signal every row of every delete
# (a thread's messages, participants, …) instead of deleting them in bulk.
@receiver(pre_delete, sender=Page)
def listing_deleted(sender, instance, **kwargs):
    """When a listing page goes away, its threads keep the title and URL they had, and
    the open ones say so ("This listing was removed from the site")."""
    from .models import Thread
    from .services import lifecycle

    Thread.objects.filter(listing_id=instance.pk, listing_title="").update(
        listing_title=instance.title[:255]
    )
    lifecycle.listing_changed(instance, Thread.ListingState.DELETED)


@receiver(page_published)
def listing_published(sender, instance, **kwargs):
    """A published listing's threads keep its current title, address and first image:
    the snapshot emails and pages fall back to once the page is unpublished or deleted.
    A change of state (sold, reserved, available again, back online) is noted in them."""
    from .services import lifecycle

    lifecycle.snapshot(instance)
    lifecycle.listing_changed(instance)


@receiver(page_unpublished)
def listing_unpublished(sender, instance, **kwargs):
    """An unpublished listing's open threads say it is no longer online."""
    from .models import Thread
    from .services import lifecycle

    lifecycle.listing_changed(instance, Thread.ListingState.OFFLINE)


@receiver(post_delete, sender="wagtail_messenger.Attachment")
def delete_attachment_file(sender, instance, **kwargs):
    """A deleted attachment row (directly or with its message or thread) takes its stored
    file along, once the transaction commits."""
    from .services.attachments import delete_files_after_commit

    delete_files_after_commit([instance.file.name])


@receiver(pre_delete, sender=get_user_model())
def erase_deleted_account(sender, instance, **kwargs):
    """Deleting an account erases the person from the messenger without deleting the
    other party's history (``services.privacy.erase_person``)."""
    from .services import privacy

    privacy.erase_deleted_user(instance)


@receiver(post_delete, sender="wagtail_messenger.DataExport")
def delete_export_file(sender, instance, **kwargs):
    """A deleted export (expired, erased, or with its account) takes its zip along."""
    from .services.privacy import delete_export_files_after_commit

    delete_export_files_after_commit([instance.file.name])


@receiver(user_logged_in)
def claim_guest_threads_on_login(sender, request, user, **kwargs):
    """A guest who proved an email with a private link, then logs in (or signs up) with
    an account of the same email, finds their guest conversations in their inbox."""
    from .actors import GUEST_SESSION_KEY
    from .services import guests

    session = getattr(request, "session", None)
    email = session.get(GUEST_SESSION_KEY, "") if session is not None else ""
    if email:
        guests.claim_guest_threads(user, email)


@receiver(post_save, sender="wagtail_messenger.MessengerSettings")
@receiver(post_delete, sender="wagtail_messenger.MessengerSettings")
def settings_changed(sender, instance, **kwargs):
    """An editor saved a site's settings (or the site went): the cached copy is stale."""
    instance.forget_cached()


@receiver(m2m_changed, sender=get_user_model().groups.through)
def team_membership_changed(sender, **kwargs):
    """Someone joined or left a group: cached team memberships are stale."""
    teams.invalidate()


@receiver(post_save, sender="wagtail_messenger.Participant")
def team_received_a_thread(sender, instance, created, **kwargs):
    if created and instance.group_id is not None:
        teams.invalidate()


@receiver(post_save, sender="wagtail_messenger.Ban")
@receiver(post_delete, sender="wagtail_messenger.Ban")
def bans_changed(sender, instance, **kwargs):
    """A moderator banned someone or lifted a ban: the cached ban list is stale."""
    from django.db import transaction

    from .services import bans

    bans.forget()
    transaction.on_commit(bans.forget)
