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
# Seven or more digits, allowing spaces, dots, dashes, brackets and a leading +.
PHONE_RE = re.compile(r"(?<!\w)\+?(?:[\s().-]*\d){7,}(?!\w)")

ALLOW, WARN, HOLD = "allow", "warn", "hold"


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

    def score(self, *, sender, thread, body) -> Verdict:
        raise NotImplementedError("Spam filters implement score().")

    def assess(self, *, sender, thread, body):
        if self.conf.spam_filter_enabled:
            verdict = self.score(sender=sender, thread=thread, body=body)
        else:
            verdict = Verdict()
        verdict.contains_contact_details = self.has_contact_details(body)
        if self.conf.spam_filter_enabled and verdict.score >= self.conf.spam_threshold:
            verdict.hold = True
        if verdict.contains_contact_details and self.conf.contact_details == HOLD:
            verdict.hold = True
            if _("contact details") not in verdict.reasons:
                verdict.reasons.append(_("contact details"))
        return verdict

    @staticmethod
    def has_contact_details(body):
        return bool(EMAIL_RE.search(body) or PHONE_RE.search(body))


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
        if self.conf.contact_details == WARN and self.has_contact_details(body):
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
