"""Spam scoring, run when a message is posted (before it is saved).

The filter is a replaceable class. Point ``WAGTAILMESSENGER_SPAM_FILTER`` at the dotted
path of a subclass of :class:`BaseSpamFilter` and implement :meth:`~BaseSpamFilter.score`::

    class AkismetFilter(BaseSpamFilter):
        def score(self, *, sender, thread, body):
            verdict = Verdict()
            if akismet_says_spam(body, sender.email):
                verdict.add(10, "Akismet")
            return verdict

``score()`` returns a :class:`Verdict` (points and the reasons moderators will read).
:meth:`~BaseSpamFilter.assess` then applies the site's settings, which subclasses
normally keep: a score at or above the site's *spam threshold* holds the message (when
the spam filter is on), and so does an email address or phone number when the site's
*contact details* setting is "hold for review". A held message is saved but not
delivered and nobody is notified until a moderator releases it ("not spam").

The default :class:`ScoringSpamFilter` adds points for links, blocked words, the same
text sent to many people, a new guest writing in bursts and, where the site keeps deals
on the platform, contact details.
"""

import re
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Count, Exists, F, OuterRef, Q, Value
from django.db.models.lookups import Exact
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from ..conf import get_setting

URL_RE = re.compile(r"(https?://|www\.)\S+", re.IGNORECASE)
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")

# Written-out addresses: "bob [at] gmail [dot] com", "bob (at) gmail.com", "bob at gmail
# dot com", "bob @ gmail . com". The loose forms need a common top-level domain at the
# end, so "we meet at the station. Then" is prose, not an address.
_OPEN, _CLOSE = r"[\[\(\{<]", r"[\]\)\}>]"
_AT = rf"(?:\s*@\s*|\s*{_OPEN}\s*(?:at|@|arobase)\s*{_CLOSE}\s*|\s+(?:at|arobase)\s+)"
_DOT = rf"(?:\s*\.\s*|\s*{_OPEN}\s*(?:dot|point|\.)\s*{_CLOSE}\s*|\s+(?:dot|point)\s+)"
COMMON_TLDS = (
    *("com", "net", "org", "info", "biz", "io", "co", "me", "eu", "uk", "us", "ca", "au"),
    *("fr", "de", "es", "it", "nl", "be", "ch", "at", "pt", "pl", "se", "no", "dk", "fi"),
    *("ie", "cz", "ru", "ua", "br", "mx", "in", "jp", "nz", "za", "edu", "gov", "email"),
)
OBFUSCATED_EMAIL_RE = re.compile(
    rf"(?<![\w.+-])(?P<local>[\w.+-]+){_AT}(?:[\w-]+{_DOT})+(?:{'|'.join(COMMON_TLDS)})(?![\w-])",
    re.IGNORECASE,
)
#: Words before a plain " at " that make it prose ("look at google.com", "I work at
#: example.com"), not the start of an address.
PROSE_BEFORE_AT = frozenset(
    (
        *("look", "looking", "looked", "work", "works", "worked", "working", "me", "us"),
        *("it", "is", "are", "was", "be", "meet", "available", "sold", "bought", "listed"),
        *("found", "here", "there", "online", "posted", "seen", "arrive", "arrived", "stay"),
        *("them", "him", "her", "you", "home", "price", "priced", "advertised", "shop"),
    )
)
# Three or more single letters, digits, dots or "@" with one space between ("b o b",
# "0 6 1 2"):
# joined before looking, so spacing a word out does not hide it.
SPACED_RE = re.compile(r"(?<!\S)[\w.@] [\w.@](?: [\w.@])+(?!\S)")

ALLOW, WARN, HOLD = "allow", "warn", "hold"

#: A region for phone numbers written without a country code, when
#: ``WAGTAILMESSENGER_PHONE_REGION`` is not set and ``LANGUAGE_CODE`` names no country:
#: the country most of a language's speakers dial from.
LANGUAGE_REGIONS = {
    **{"en": "US", "sv": "SE", "da": "DK", "nb": "NO", "nn": "NO", "ja": "JP", "ko": "KR"},
    **{"zh": "CN", "el": "GR", "cs": "CZ", "uk": "UA", "he": "IL", "et": "EE", "sl": "SI"},
    **{"ca": "ES", "eu": "ES", "gl": "ES", "ga": "IE", "cy": "GB", "hi": "IN", "vi": "VN"},
    **{"fa": "IR", "ar": "EG", "sr": "RS", "bs": "BA", "kk": "KZ", "ms": "MY", "sq": "AL"},
}


def phone_region():
    """The region phone numbers without a country code are read in (``"FR"``):
    ``WAGTAILMESSENGER_PHONE_REGION``, else the country of ``LANGUAGE_CODE`` ("en-gb" ->
    "GB"), else its language's usual one ("fr" -> "FR", "en" -> "US"); ``None`` when none
    fits, and then only numbers written with "+" and a country code are found."""
    import phonenumbers
    from django.conf import settings

    region = get_setting("PHONE_REGION")
    if region:
        return str(region).upper()
    language, _sep, country = (settings.LANGUAGE_CODE or "").replace("_", "-").partition("-")
    for candidate in (country[:2], LANGUAGE_REGIONS.get(language.lower()), language):
        if candidate and candidate.upper() in phonenumbers.SUPPORTED_REGIONS:
            return candidate.upper()
    return None


def _unspaced(text):
    return SPACED_RE.sub(lambda m: m.group(0).replace(" ", ""), text)


def find_emails(body):
    """Email addresses in ``body``, plain or written out to slip past filters."""
    found = [m.group(0) for m in EMAIL_RE.finditer(body)]
    for text in dict.fromkeys((body, _unspaced(body))):
        for match in OBFUSCATED_EMAIL_RE.finditer(text):
            plain_at = "@" not in match.group(0) and not re.search(_OPEN, match.group(0))
            local = match.group("local").lower()
            if plain_at and local in PROSE_BEFORE_AT:
                continue
            found.append(match.group(0))
    return list(dict.fromkeys(found))


def find_phone_numbers(body, region=None):
    """Phone numbers in ``body`` that are valid numbers for ``region`` (or written with
    a country code), grouped as such numbers are written (``phonenumbers``' matcher,
    ``Leniency.STRICT_GROUPING``): "06 12 34 56 78" in France, "+1 415 555 2671"
    anywhere; a price ("1 250 000 euros"), a date ("2024-11-22") or an order number is
    not one."""
    import phonenumbers

    region = phone_region() if region is None else region
    found = []
    for text in dict.fromkeys((body, _unspaced(body))):
        matcher = phonenumbers.PhoneNumberMatcher(
            text, region, leniency=phonenumbers.Leniency.STRICT_GROUPING, max_tries=200
        )
        found.extend(match.raw_string for match in matcher)
    return list(dict.fromkeys(found))


def has_contact_details(body, region=None):
    """Whether ``body`` holds an email address or a phone number (see
    :func:`find_emails`, :func:`find_phone_numbers`)."""
    return bool(find_emails(body) or find_phone_numbers(body, region))


def held_notice(message, conf):
    """What the sender of a held ``message`` is told right after sending: it waits for
    a moderator, and why when the reason is the site's rule on contact details (the
    spam filter's own reasons are not told, so nobody learns to write around them)."""
    if message.contains_contact_details and conf.contact_details == HOLD:
        return _(
            "Your message waits for a moderator's review before it is delivered: it "
            "contains contact details (an email address or a phone number). Keep "
            "payments on the site."
        )
    return _("Your message waits for a moderator's review before it is delivered.")


@dataclass
class Verdict:
    """What a filter found: ``score`` points, ``reasons`` for the moderators, and after
    :meth:`BaseSpamFilter.assess`, whether to ``hold`` the message."""

    score: float = 0.0
    reasons: list = field(default_factory=list)
    hold: bool = False
    contains_contact_details: bool = False

    def add(self, points, reason):
        self.score += points
        self.reasons.append(str(reason))


class BaseSpamFilter:
    """Subclass and implement :meth:`score`. ``conf`` is the site's
    :class:`~wagtail_messenger.models.MessengerSettings`.

    ``sender`` is the sender's :class:`~wagtail_messenger.models.Participant` row (saved),
    ``thread`` the :class:`~wagtail_messenger.models.Thread` (saved), ``body`` the cleaned
    text of the message about to be saved.
    """

    def __init__(self, conf):
        self.conf = conf
        self._contact_found = {}

    def score(self, *, sender, thread, body) -> Verdict:
        raise NotImplementedError("Spam filters implement score().")

    def assess(self, *, sender, thread, body):
        if self.conf.spam_filter_enabled:
            verdict = self.score(sender=sender, thread=thread, body=body)
        else:
            verdict = Verdict()
        verdict.contains_contact_details = self.contact_details_in(body)
        if self.conf.spam_filter_enabled and verdict.score >= self.conf.spam_threshold:
            verdict.hold = True
        if verdict.contains_contact_details and self.conf.contact_details == HOLD:
            verdict.hold = True
            if _("contact details") not in verdict.reasons:
                verdict.reasons.append(_("contact details"))
        return verdict

    def contact_details_in(self, body):
        """:meth:`has_contact_details`, looked for once per text."""
        if body not in self._contact_found:
            self._contact_found[body] = self.has_contact_details(body)
        return self._contact_found[body]

    @staticmethod
    def has_contact_details(body):
        """Override to find contact details otherwise (see :func:`has_contact_details`)."""
        return has_contact_details(body)


class ScoringSpamFilter(BaseSpamFilter):
    """Points for what spam looks like. With the default threshold (5):

    - each link: 1.5 (four links hold a message);
    - each blocked word or phrase from the site settings: 3;
    - the same text sent by the same person in ``DUPLICATE_THREADS`` other
      conversations within a day: 3, twice as many: 5 (a buyer asking three sellers
      "Is it still available?" is not held for that alone);
    - a new guest (first message less than ``NEW_GUEST_AGE`` ago) sending more than
      ``BURST_MESSAGES`` within ``BURST_WINDOW``: 3;
    - contact details when the site's setting is "warn": 1 (with "hold" the message is
      held whatever its score).

    Adjust the class attributes in a subclass to tune it.
    """

    LINK_POINTS = 1.5
    BLOCKED_WORD_POINTS = 3.0
    DUPLICATE_POINTS = 3.0
    DUPLICATE_MANY_POINTS = 5.0
    DUPLICATE_WINDOW = timedelta(hours=24)
    DUPLICATE_THREADS = 3
    BURST_POINTS = 3.0
    BURST_WINDOW = timedelta(minutes=10)
    BURST_MESSAGES = 5
    NEW_GUEST_AGE = timedelta(days=1)
    CONTACT_POINTS = 1.0

    def score(self, *, sender, thread, body):
        verdict = Verdict()
        links = len(URL_RE.findall(body))
        if links:
            verdict.add(self.LINK_POINTS * links, _("%(count)d link(s)") % {"count": links})
        lowered = body.lower()
        for word in self.conf.blocked_word_list:
            if word in lowered:
                verdict.add(self.BLOCKED_WORD_POINTS, _("blocked word “%(word)s”") % {"word": word})
        elsewhere = self.same_text_elsewhere(sender, thread, body)
        if elsewhere >= self.DUPLICATE_THREADS:
            many = elsewhere >= 2 * self.DUPLICATE_THREADS
            verdict.add(
                self.DUPLICATE_MANY_POINTS if many else self.DUPLICATE_POINTS,
                _("same text sent in %(count)d other conversations") % {"count": elsewhere},
            )
        if sender.is_guest and self.is_bursting_new_guest(sender):
            verdict.add(self.BURST_POINTS, _("new guest writing in bursts"))
        if self.conf.contact_details == WARN and self.contact_details_in(body):
            verdict.add(self.CONTACT_POINTS, _("contact details"))
        return verdict

    def _same_sender(self, sender):
        from ..models import Message

        if sender.user_id:
            return Message.objects.filter(sender__user_id=sender.user_id)
        return Message.objects.filter(sender__kind=sender.kind, sender__email=sender.email)

    def same_text_elsewhere(self, sender, thread, body):
        """How many other threads got the same text from the same person lately.

        The messages are found by their text first (the ``wm_msg_text_head`` index), then
        kept if the same person sent them: the cost follows how often the text was sent,
        not how many messages the sender has (a seller with 20,000 threads)."""
        from ..models import Message, Participant
        from ..models.messages import TextHead

        since = timezone.now() - self.DUPLICATE_WINDOW
        if sender.user_id:
            same_person = Q(user_id=sender.user_id)
        else:
            same_person = Q(kind=sender.kind, email=sender.email)
        sent_by_them = Participant.objects.filter(same_person, pk=OuterRef("sender_id"))
        # One filter() call: every further clone of the queryset costs more to build
        # than the database takes to answer.
        same_text = Message.objects.filter(
            Exact(TextHead(F("body")), TextHead(Value(body))),
            ~Q(thread_id=thread.pk),
            Exists(sent_by_them),
            created_at__gte=since,
            body__iexact=body,
        )
        return same_text.aggregate(threads=Count("thread_id", distinct=True))["threads"]

    def is_bursting_new_guest(self, sender):
        now = timezone.now()
        mine = self._same_sender(sender)
        if mine.filter(created_at__lt=now - self.NEW_GUEST_AGE).exists():
            return False  # not new: a guest who has written for days
        return mine.filter(created_at__gte=now - self.BURST_WINDOW).count() >= self.BURST_MESSAGES


def get_filter_class():
    cls = import_string(get_setting("SPAM_FILTER"))
    if not (isinstance(cls, type) and issubclass(cls, BaseSpamFilter)):
        from ..exceptions import MessengerConfigurationError

        raise MessengerConfigurationError(
            "WAGTAILMESSENGER_SPAM_FILTER must name a subclass of "
            "wagtail_messenger.services.spam.BaseSpamFilter."
        )
    return cls


def assess(*, sender, thread, body, conf):
    """The verdict on a message about to be saved (used by the conversations service)."""
    return get_filter_class()(conf).assess(sender=sender, thread=thread, body=body)
