"""Compose and reply forms.

Each rendered form carries a fresh hidden idempotency key: a double click (or a resent
POST) reaches the service layer twice with the same key, and only one message is saved.

Forms that visitors without an account send (compose as a guest, "lost your link?", the
contact forms of :mod:`wagtail_messenger.contact_forms`) also carry two traps for bots
(:class:`GuestTrapMixin`, ``WAGTAILMESSENGER_FORM_TRAPS``): a honeypot field people never
see, and a signed timestamp that refuses a submit faster than
``WAGTAILMESSENGER_FORM_MIN_SECONDS`` or older than ``WAGTAILMESSENGER_FORM_MAX_AGE``.
"""

import re
import time
import uuid

from django import forms
from django.core import signing
from django.core.validators import MaxLengthValidator
from django.utils.translation import gettext_lazy as _

from .conf import get_setting

HONEYPOT_FIELD = "wm_website"
STAMP_FIELD = "wm_started"
STAMP_SALT = "wagtail_messenger.forms.stamp"


def form_stamp(now=None):
    """A signed "this form was shown at ``now``" value."""
    return signing.dumps({"t": int(time.time() if now is None else now)}, salt=STAMP_SALT)


def stamp_age(value, now=None):
    """Seconds since :func:`form_stamp` made ``value``; ``None`` when it is not one."""
    try:
        shown = signing.loads(value or "", salt=STAMP_SALT)["t"]
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    return (time.time() if now is None else now) - shown


class HoneypotInput(forms.TextInput):
    """A text box people never see: inside an ``aria-hidden``, ``hidden`` wrapper with a
    label telling anyone who reaches it to leave it empty, out of the tab order, never
    autofilled. Rendered among a form's hidden fields (no visible label of its own)."""

    template_name = "wagtail_messenger/includes/honeypot.html"

    def __init__(self, attrs=None):
        attrs = {"tabindex": "-1", "autocomplete": "off", **(attrs or {})}
        super().__init__(attrs)

    @property
    def is_hidden(self):
        return True


class StampInput(forms.HiddenInput):
    """A hidden input that holds a fresh :func:`form_stamp` each time it is rendered
    (a form shown again with errors restarts its clock)."""

    def format_value(self, value):
        return form_stamp()


class GuestTrapMixin:
    """Adds the honeypot and the timestamp to a form and checks them in ``clean()``;
    neither ends up in ``cleaned_data`` (nor in a stored form submission). A form turns
    them off for signed-in visitors by setting ``use_traps = False`` before
    ``super().__init__`` adds them, or by calling :meth:`drop_traps`."""

    use_traps = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.use_traps and get_setting("FORM_TRAPS"):
            self.fields[HONEYPOT_FIELD] = forms.CharField(
                label=_("Leave this field empty"), required=False, widget=HoneypotInput
            )
            self.fields[STAMP_FIELD] = forms.CharField(required=False, widget=StampInput)

    def drop_traps(self):
        self.fields.pop(HONEYPOT_FIELD, None)
        self.fields.pop(STAMP_FIELD, None)

    def clean(self):
        cleaned = super().clean()
        cleaned = self.cleaned_data if cleaned is None else cleaned
        if HONEYPOT_FIELD not in self.fields:
            return cleaned
        honey = cleaned.pop(HONEYPOT_FIELD, "")
        age = stamp_age(cleaned.pop(STAMP_FIELD, ""))
        if honey:
            raise forms.ValidationError(
                _("Your message could not be sent. Please try again."), code="honeypot"
            )
        if age is None or age > get_setting("FORM_MAX_AGE").total_seconds():
            raise forms.ValidationError(
                _("This form was open for too long. Please send it again."), code="stale"
            )
        if age < get_setting("FORM_MIN_SECONDS"):
            raise forms.ValidationError(
                _("That was quick! Please wait a few seconds, then send it again."),
                code="too_fast",
            )
        return cleaned


KEY_RE = re.compile(r"^[0-9a-f]{32}$")


def plain_text(value, max_length):
    """A free-text parameter read without a form (the inbox search, a report's reason):
    control characters, which no person types and PostgreSQL refuses in text (NUL),
    become spaces; then trimmed and cut to ``max_length``."""
    text = "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in value or "")
    return text.strip()[:max_length]


def new_key():
    return uuid.uuid4().hex


class MessageForm(forms.Form):
    body = forms.CharField(
        label=_("Message"),
        widget=forms.Textarea(attrs={"rows": 4}),
        strip=False,  # the service trims; the visitor's text is kept exactly on errors
    )
    attachment = forms.FileField(label=_("Attach a file"), required=False)
    key = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, conf=None, **kwargs):
        super().__init__(*args, **kwargs)
        limit = get_setting("MAX_BODY_LENGTH")
        self.fields["body"].widget.attrs["maxlength"] = limit
        self.fields["body"].validators.append(MaxLengthValidator(limit))
        if not self.is_bound:
            self.initial.setdefault("key", new_key())
        if conf is None or not conf.attachments_enabled:
            del self.fields["attachment"]
        else:
            exts = conf.extension_list
            self.fields["attachment"].widget.attrs["accept"] = ",".join(f".{e}" for e in exts)
            self.fields["attachment"].help_text = _("Optional. %(types)s, up to %(size)d MB.") % {
                "types": ", ".join(exts),
                "size": conf.max_attachment_mb,
            }

    def clean_body(self):
        body = self.cleaned_data["body"]
        if not body.strip():
            raise forms.ValidationError(_("Write a message before sending."))
        return body

    def clean_key(self):
        key = (self.cleaned_data.get("key") or "").strip().lower()
        return key if KEY_RE.match(key) else new_key()


class ReplyForm(MessageForm):
    pass


class ComposeForm(GuestTrapMixin, MessageForm):
    """Logged-in users (and proven guests) write directly; other visitors give a name
    and an email address to receive their private link."""

    name = forms.CharField(label=_("Your name"), max_length=150, required=False)
    email = forms.EmailField(label=_("Your email"), required=False)

    field_order = ["name", "email", "body", "attachment", "key"]

    def __init__(self, *args, ask_identity=False, **kwargs):
        self.use_traps = ask_identity  # signed-in people and proven guests skip them
        super().__init__(*args, **kwargs)
        self.ask_identity = ask_identity
        if ask_identity:
            self.fields["name"].required = True
            self.fields["email"].required = True
            self.fields["email"].help_text = _(
                "We email you a private link to your conversation, to read answers and reply."
            )
        else:
            del self.fields["name"]
            del self.fields["email"]


class RequestLinkForm(GuestTrapMixin, forms.Form):
    email = forms.EmailField(label=_("Your email"))
