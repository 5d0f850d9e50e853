"""Compose and reply forms.

Each rendered form carries a fresh hidden idempotency key: a double click (or a resent
POST) reaches the service layer twice with the same key, and only one message is saved.
"""

import re
import uuid

from django import forms
from django.core.validators import MaxLengthValidator
from django.utils.translation import gettext_lazy as _

from .conf import get_setting

KEY_RE = re.compile(r"^[0-9a-f]{32}$")


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


class ComposeForm(MessageForm):
    """Logged-in users (and proven guests) write directly; other visitors give a name
    and an email address to receive their private link."""

    name = forms.CharField(label=_("Your name"), max_length=150, required=False)
    email = forms.EmailField(label=_("Your email"), required=False)

    field_order = ["name", "email", "body", "attachment", "key"]

    def __init__(self, *args, ask_identity=False, **kwargs):
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


class RequestLinkForm(forms.Form):
    email = forms.EmailField(label=_("Your email"))
