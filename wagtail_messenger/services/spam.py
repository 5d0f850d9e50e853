"""Spam scoring, run when a message is posted.

The filter is a replaceable class: set ``WAGTAILMESSENGER_SPAM_FILTER`` to the dotted
path of a subclass of :class:`BaseSpamFilter` and implement ``score()``.
"""

import re
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from ..conf import get_setting

URL_RE = re.compile(r"(https?://|www\.)\S+", re.IGNORECASE)
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
# Seven or more digits, allowing spaces, dots, dashes, brackets and a leading +.
PHONE_RE = re.compile(r"(?<!\w)\+?(?:[\s().-]*\d){7,}(?!\w)")


@dataclass
class Verdict:
    score: float = 0.0
    reasons: list = field(default_factory=list)
    hold: bool = False
    contains_contact_details: bool = False

    def add(self, points, reason):
        self.score += points
        self.reasons.append(reason)


class BaseSpamFilter:
    """Subclass and implement :meth:`score`. ``conf`` is the site's MessengerSettings."""

    def __init__(self, conf):
        self.conf = conf

    def score(self, *, sender, thread, body) -> Verdict:
        raise NotImplementedError

    def assess(self, *, sender, thread, body):
        verdict = self.score(sender=sender, thread=thread, body=body)
        verdict.contains_contact_details = self.has_contact_details(body)
        if self.conf.spam_filter_enabled and verdict.score >= self.conf.spam_threshold:
            verdict.hold = True
        if verdict.contains_contact_details and self.conf.contact_details == "hold":
            verdict.hold = True
            verdict.reasons.append(_("contact details"))
        return verdict

    @staticmethod
    def has_contact_details(body):
        return bool(EMAIL_RE.search(body) or PHONE_RE.search(body))


class ScoringSpamFilter(BaseSpamFilter):
    """Adds points for links, blocked words, the same text sent to many people, and a
    new guest writing in bursts."""

    LINK_POINTS = 1.5
    BLOCKED_WORD_POINTS = 3.0
    DUPLICATE_POINTS = 2.0
    DUPLICATE_WINDOW = timedelta(hours=24)
    DUPLICATE_THREADS = 3
    BURST_POINTS = 3.0
    BURST_WINDOW = timedelta(minutes=10)
    BURST_MESSAGES = 5

    def score(self, *, sender, thread, body):
        verdict = Verdict()
        if not self.conf.spam_filter_enabled:
            return verdict
        links = len(URL_RE.findall(body))
        if links:
            verdict.add(self.LINK_POINTS * links, _("%(count)d link(s)") % {"count": links})
        lowered = body.lower()
        for word in self.conf.blocked_word_list:
            if word in lowered:
                verdict.add(self.BLOCKED_WORD_POINTS, _("blocked word “%(word)s”") % {"word": word})
        if self.same_text_elsewhere(sender, thread, body) >= self.DUPLICATE_THREADS:
            verdict.add(self.DUPLICATE_POINTS * 2, _("same text sent to many people"))
        if sender.is_guest and self.recent_guest_messages(sender) >= self.BURST_MESSAGES:
            verdict.add(self.BURST_POINTS, _("new guest writing in bursts"))
        return verdict

    @cached_property
    def _since(self):
        return timezone.now() - self.DUPLICATE_WINDOW

    def _same_sender(self, sender):
        from ..models import Message

        if sender.user_id:
            return Message.objects.filter(sender__user_id=sender.user_id)
        return Message.objects.filter(sender__kind=sender.kind, sender__email=sender.email)

    def same_text_elsewhere(self, sender, thread, body):
        return (
            self._same_sender(sender)
            .filter(body=body, created_at__gte=self._since)
            .exclude(thread_id=thread.pk)
            .values("thread_id")
            .distinct()
            .count()
        )

    def recent_guest_messages(self, sender):
        since = timezone.now() - self.BURST_WINDOW
        return self._same_sender(sender).filter(created_at__gte=since).count()


def get_filter_class():
    return import_string(get_setting("SPAM_FILTER"))


def assess(*, sender, thread, body, conf):
    return get_filter_class()(conf).assess(sender=sender, thread=thread, body=body)
