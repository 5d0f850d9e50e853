"""The plugin's own extension hooks.

Register functions with Wagtail's ``@hooks.register(NAME)`` in any ``wagtail_hooks.py``.
Each name below documents its arguments and what a return value means; the helpers read
them with :func:`wagtail.hooks.get_hooks` so sites need nothing else.
"""

from wagtail import hooks

#: ``fn(page, request) -> User | Group | None``. Who receives messages about a listing.
#: The first non-``None`` answer wins; otherwise ``page.get_messenger_recipient()`` if the
#: page defines it, then the page owner, then the site settings' fallback recipient.
LISTING_RECIPIENT = "wagtail_messenger_listing_recipient"

#: ``fn(page, request) -> bool | None``. Whether a page is a listing (gets the button).
#: ``None`` defers to ``WAGTAILMESSENGER_LISTING_MODELS`` and ``page.messenger_is_listing``.
IS_LISTING = "wagtail_messenger_is_listing"

#: ``fn(page) -> "available" | "reserved" | "sold" | None``. Where a listing stands.
#: ``None`` defers to ``page.messenger_listing_state()`` if the page defines it, else
#: "available". A sold listing takes no new conversations.
LISTING_STATE = "wagtail_messenger_listing_state"

#: ``fn(thread, request) -> str | None``. Where "Contact the seller about another
#: listing" leads from a conversation closed because its listing ended. ``None`` defers
#: to the listing's parent page (the listing index) while it is live, else the site's
#: home page. Point it at the seller's profile or their other listings.
OTHER_LISTINGS_URL = "wagtail_messenger_other_listings_url"

#: ``fn(message)``, run after the transaction that saved a message commits (also for the
#: first message of a thread; not for listing notes). Good for webhooks, analytics or
#: push notifications.
AFTER_MESSAGE_POSTED = "wagtail_messenger_after_message_posted"

#: ``fn(thread, message)``, run after a new thread is committed.
AFTER_THREAD_STARTED = "wagtail_messenger_after_thread_started"


def first_answer(hook_name, *args):
    for fn in hooks.get_hooks(hook_name):
        result = fn(*args)
        if result is not None:
            return result
    return None


def run_all(hook_name, *args):
    for fn in hooks.get_hooks(hook_name):
        fn(*args)
