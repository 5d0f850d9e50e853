"""What a listing's life does to the conversations about it.

Wagtail's signals call :func:`listing_changed` (``signal_handlers.py``): a publish (the
listing's state may have changed: available, reserved, sold, through the
``wagtail_messenger_listing_state`` hook or ``page.messenger_listing_state()``), an
unpublish ("offline") and a delete ("deleted"). Each conversation remembers the state it
last told its participants (``Thread.listing_state``); when the state differs, an open
conversation gets a **note**: a :class:`~wagtail_messenger.models.Message` of kind
``note`` ("This listing was marked as sold"), numbered like any message so the page,
the live updates and exports show it in its place, never counted as unread, never
reported, and emailed once in the normal notification round.

A note is posted in the name of the listing's side of the conversation (the participant
who did not start it): the seller is not emailed about their own change, and a buyer
who blocks the seller is spared it like the seller's other messages.

Sold, unpublished and deleted listings have *ended* (``Thread.listing_ended_at``): the
site's ``close_ended_listings_days`` setting lets the maintenance job
``close_ended_listings`` close their conversations after N days (status ``ended``); a
listing that comes back opens them again.
"""

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.images import get_image_model

from .. import hooks
from ..models import Message, Participant, Thread
from . import listings

logger = logging.getLogger(__name__)

State = Thread.ListingState

#: The states in which a listing has ended (its conversations may be closed).
ENDED = frozenset({State.SOLD, State.OFFLINE, State.DELETED})

#: What each note says, by its ``data["listing_event"]``; rendered in the reader's
#: language when shown (the stored body is the site's language, for search and exports).
NOTE_TEXTS = {
    "sold": _("This listing was marked as sold."),
    "reserved": _("This listing was marked as reserved."),
    "available": _("This listing is available again."),
    "offline": _("This listing is no longer online."),
    "online": _("This listing is back online."),
    "deleted": _("This listing was removed from the site."),
}


def note_text(message):
    """The text of a note in the active language (its stored body for an unknown
    event: a note written by a later version)."""
    text = NOTE_TEXTS.get((message.data or {}).get("listing_event"))
    return str(text) if text is not None else message.body


def event_between(old, new):
    """The note owed when the conversation last said ``old`` and the listing is now
    ``new``, or ``None`` (nothing worth telling)."""
    old = old or State.AVAILABLE
    if old == new:
        return None
    if new == State.AVAILABLE:
        return "online" if old in (State.OFFLINE, State.DELETED) else "available"
    if new == State.DELETED and old == State.OFFLINE:
        return None  # already told: "no longer online"
    if new == State.RESERVED and old in (State.OFFLINE, State.DELETED):
        return "online"  # back, and reserved: the reservation is the news of the page
    return str(new)


def state_of(page):
    """The state of a page that exists: offline unless live, else what the hook or the
    page method says (``listings.listing_state``)."""
    if not page.live:
        return State.OFFLINE
    return State(listings.listing_state(page))


def initial_state(listing):
    """``Thread.listing_state`` for a conversation starting about ``listing`` now ("" while
    it is available, or for no listing)."""
    if listing is None:
        return ""
    state = state_of(listing)
    return "" if state == State.AVAILABLE else state


def first_image(page):
    """The listing's first image, for the snapshot: ``page.messenger_listing_image()``
    when the page has it, else the first image field of the page's model that is set."""
    page = page.specific_deferred
    method = getattr(page, "messenger_listing_image", None)
    if callable(method):
        return method()
    image_model = get_image_model()
    for field in type(page)._meta.concrete_fields:
        if field.is_relation and field.related_model is image_model:
            image_id = getattr(page, field.attname)
            if image_id is not None:
                return getattr(page, field.name)
    return None


def listing_changed(page, state=None):
    """Bring the conversations about ``page`` to its state (``state``, else read from
    the page): each open one whose last word differs gets its note. Returns how many
    notes were posted. Runs in the caller's transaction (the publish, the delete)."""
    state = State(state) if state is not None else state_of(page)
    stale = Thread.objects.filter(listing_id=page.pk).exclude(listing_state=state)
    if state == State.AVAILABLE:
        stale = stale.exclude(listing_state="")
    posted = 0
    for thread_id in stale.order_by("pk").values_list("pk", flat=True):
        posted += _move_thread(thread_id, state)
    return posted


def _move_thread(thread_id, state):
    from .conversations import deliver, lock_thread, number

    with transaction.atomic():
        locked = lock_thread(thread_id)
        if locked is None:
            return 0
        thread = Thread.objects.select_related("site").get(pk=thread_id)
        if thread.listing_state == state or (
            # A page being deleted is unpublished too, before or after this module
            # hears of the delete (the order of Wagtail's receivers): it stays deleted.
            thread.listing_state == State.DELETED and state == State.OFFLINE
        ):
            return 0
        event = event_between(thread.listing_state, state)
        changes = {"listing_state": state}
        now = timezone.now()
        if state in ENDED:
            if thread.listing_ended_at is None:
                changes["listing_ended_at"] = now
        else:
            changes["listing_ended_at"] = None
            if thread.status == Thread.Status.ENDED:
                # The listing came back: its conversations take messages again.
                changes["status"] = thread.status = Thread.Status.OPEN
        posted = 0
        side = _listing_side(thread)
        if state == State.DELETED and thread.listing_state == State.OFFLINE:
            # Wagtail unpublishes a live page just before deleting it: the note it just
            # got ("no longer online") becomes "removed", rather than a second note.
            _reword_last_offline_note(thread, locked, since=now - JUST_NOW)
        if event is not None and thread.is_open and side is not None:
            note = Message(
                thread=thread,
                sender=side,
                kind=Message.Kind.NOTE,
                body=str(NOTE_TEXTS[event]),
                data={"listing_event": event},
            )
            number(note, locked)
            note.save()
            deliver(note)
            posted = 1
        Thread.objects.filter(pk=thread_id).update(**changes)
        return posted


#: How recent an "offline" note a delete rewords (the unpublish of the same request).
JUST_NOW = timedelta(minutes=1)


def _reword_last_offline_note(thread, locked, since):
    Message.objects.filter(
        thread=thread,
        kind=Message.Kind.NOTE,
        seq=locked.last_seq,
        created_at__gte=since,
        data__listing_event="offline",
    ).update(body=str(NOTE_TEXTS["deleted"]), data={"listing_event": "deleted"})


def _listing_side(thread):
    """The participant a note speaks for: the listing's side (who did not start the
    conversation), else whoever is left."""
    rows = Participant.objects.filter(thread=thread).exclude(folder=Participant.Folder.DELETED)
    return rows.order_by("is_initiator", "pk").first()


def snapshot(page):
    """Keep the title, address and first image of a published listing on its
    conversations: what pages and emails show once the page is gone."""
    Thread.objects.filter(listing_id=page.pk).update(
        listing_title=page.title[:255],
        listing_url=(page.get_url() or "")[:2048],
        listing_image=snapshot_image(page),
        listing_summary=listing_summary(page),
    )


def listing_summary(page):
    """The line a listing card shows under the title: what the page's
    ``messenger_summary()`` returns (a project's method, e.g. the price and the town),
    as text of at most 255 characters, else ``""``. A method that fails is logged and
    shows nothing: it never stops a message."""
    method = getattr(page, "messenger_summary", None)
    if not callable(method):
        return ""
    try:
        value = method()
    except Exception:
        logger.exception("messenger_summary() of page %s failed", page.pk)
        return ""
    return " ".join(str(value or "").split())[:255]


def snapshot_image(page):
    """The image the snapshot keeps: :func:`first_image` when it is one of the site's
    images, else ``None``."""
    image = first_image(page)
    return image if isinstance(image, get_image_model()) else None


def close_ended(thread_ids, cutoff):
    """Close the conversations ``thread_ids`` whose listing ended before ``cutoff`` and
    that are still open (checked again under the rows' locks). Returns how many."""
    from .cleanup import locked

    with transaction.atomic():
        rows = Thread.objects.filter(
            pk__in=thread_ids,
            status=Thread.Status.OPEN,
            listing_state__in=ENDED,
            listing_ended_at__lt=cutoff,
        ).order_by("pk")
        ids = list(locked(rows).values_list("pk", flat=True))
        return Thread.objects.filter(pk__in=ids).update(status=Thread.Status.ENDED)


def other_listings_url(thread, request=None):
    """Where "Contact the seller about another listing" leads from ``thread``: the hook
    ``OTHER_LISTINGS_URL``, else the listing's parent page while it is live, else the
    home page of the thread's site."""
    url = hooks.first_answer(hooks.OTHER_LISTINGS_URL, thread, request)
    if url is not None:
        return url
    listing = thread.listing if thread.listing_id else None
    if listing is not None:
        parent = listing.get_parent()
        if parent is not None and parent.live and parent.depth > 1:
            parent_url = parent.get_url(request)
            if parent_url:
                return parent_url
    site = thread.site
    if site is not None:
        root_url = site.root_page.get_url(request) if site.root_page_id else None
        if root_url:
            return root_url
    return "/"
