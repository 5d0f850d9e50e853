"""Contact forms that deliver threaded messages instead of email.

Add the mixin before ``AbstractEmailForm`` in an existing form page class::

    class ContactPage(MessengerFormMixin, AbstractEmailForm):
        ...

Nothing else changes: the form, its ``FormSubmission`` storage and its landing page stay
Wagtail's. While the site setting "Contact forms deliver messages instead of email" is
off, the page emails exactly as Wagtail does. When it is on, each submission is stored
first, then becomes a thread to every recipient of ``to_address`` (one thread each): the
submitted fields are the first message, the sender is the logged-in user or a guest named
by the form's fields, and the listing the form sits on or under is the thread's subject.
Whatever cannot become a thread is emailed as before. See ``docs/contact-forms.md``.
"""

import datetime
import logging

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from wagtail.admin.mail import send_mail as wagtail_send_mail

from .actors import normalise_email
from .exceptions import MessengerError, RateLimited
from .forms import GuestTrapMixin
from .frontend import render
from .models import Participant, Thread
from .services import conversations, guests, invitations, listings, ratelimit
from .services.parties import Party
from .services.settings import for_site
from .views.limited import rate_limited

logger = logging.getLogger(__name__)


def split_addresses(to_address):
    """``(valid, invalid)`` addresses of a comma-separated ``to_address``, in order,
    without repeats; valid ones are lower-cased."""
    valid, invalid = [], []
    for raw in (to_address or "").split(","):
        address = raw.strip()
        if not address:
            continue
        try:
            validate_email(address)
        except ValidationError:
            invalid.append(address)
            continue
        address = normalise_email(address)
        if address not in valid:
            valid.append(address)
    return valid, invalid


def display_value(value):
    """A submitted value as Wagtail's notification email shows it."""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, datetime.datetime):
        return date_format(value, "SHORT_DATETIME_FORMAT")
    if isinstance(value, datetime.date):
        return date_format(value, "SHORT_DATE_FORMAT")
    return "" if value is None else str(value)


#: ``clean_name`` s that hold a sender's whole name, tried in this order.
NAME_FIELDS = (
    "name",
    "your_name",
    "full_name",
    "fullname",
    "your_full_name",
    "contact_name",
    "sender_name",
    "visitor_name",
)
#: Pairs that hold it in two parts, joined with a space.
NAME_PARTS = (("first_name", "last_name"), ("given_name", "family_name"), ("first_name", "surname"))
#: Other fields ending in "name" are someone's name, unless they start with one of these.
NOT_A_PERSON = ("company", "business", "organisation", "organization", "user", "product")
#: ``clean_name`` s of single-line fields that hold an email address (fields of type
#: "Email" are tried first, whatever their name).
EMAIL_FIELDS = ("email", "your_email", "email_address", "your_email_address", "e_mail", "mail")


class ContactFormTraps(GuestTrapMixin):
    """The guest traps on a Wagtail form, for anonymous visitors only (Wagtail passes
    the visitor as ``user``)."""

    def __init__(self, *args, **kwargs):
        user = kwargs.get("user")
        self.use_traps = not (user is not None and user.is_authenticated)
        super().__init__(*args, **kwargs)


def is_single_line(field):
    return isinstance(field, forms.CharField) and not isinstance(field.widget, forms.Textarea)


class MessengerFormMixin:
    """Put before ``AbstractEmailForm``. The guest's name and email are found in the
    form's fields by type and by their usual names (:data:`NAME_FIELDS`,
    :data:`EMAIL_FIELDS`); set the attributes below, or override the
    ``get_messenger_*`` methods, for a form that names them otherwise."""

    #: ``clean_name`` of the field holding the sender's name (Wagtail derives it from the
    #: label: "Name" -> ``name``, "Your name" -> ``your_name``), or a tuple of fields
    #: joined with spaces (``("first_name", "last_name")``). ``None``: found by name.
    messenger_name_field = None
    #: ``clean_name`` of the field holding the sender's email. ``None``: the fields of
    #: type "Email", then single-line fields with a usual email name.
    messenger_email_field = None
    #: Shown as the sender when a guest gives no name.
    messenger_anonymous_name = _("Website visitor")

    # -- Wagtail's entry points ------------------------------------------------------------

    def messenger_handles_forms(self):
        conf = for_site(self.get_site())
        return conf.enabled and conf.contact_forms_deliver_messages

    def get_form_class(self):
        """Wagtail's form class, with the guest traps (:class:`GuestTrapMixin`: a
        honeypot and a signed timestamp) while the messenger delivers the submissions;
        they are left out for signed-in visitors and never stored."""
        form_class = super().get_form_class()
        if not self.messenger_handles_forms():
            return form_class
        return type(form_class.__name__, (ContactFormTraps, form_class), {})

    def serve(self, request, *args, **kwargs):
        # Kept for process_form_submission (the rate limits count per IP address);
        # a submission over a limit answers 429 with nothing stored or sent.
        self._messenger_request = request
        if self.messenger_handles_forms() and self.messenger_listing_sold():
            self._messenger_request = None
            problem = _("This listing was sold: it takes no new messages.")
            return render(
                request, "wagtail_messenger/problem.html", {"problem": problem}, status=403
            )
        try:
            return super().serve(request, *args, **kwargs)
        except RateLimited as error:
            return rate_limited(request, error)
        finally:
            self._messenger_request = None

    def messenger_listing_sold(self):
        """Whether the listing this form is about was sold (it takes no new threads). A
        failing site hook leaves the form working: delivery has its own fallback."""
        try:
            return listings.is_sold(self.get_messenger_listing())
        except Exception:
            logger.exception("Form page %s: could not tell whether its listing was sold.", self.pk)
            return False

    def check_messenger_limits(self, form, conf):
        """Raise :class:`RateLimited` when the sender is over their limit (a new
        conversation), or when their address had its day's private links."""
        request = getattr(self, "_messenger_request", None)
        sender = self.get_messenger_sender(form)
        if sender is None:
            return
        ratelimit.check_new_thread(
            conf, request, sender, emails_link=sender.kind == Participant.Kind.GUEST
        )

    def process_form_submission(self, form):
        conf = for_site(self.get_site())
        if not (conf.enabled and conf.contact_forms_deliver_messages):
            return super().process_form_submission(form)
        self.check_messenger_limits(form, conf)  # before anything is stored
        # Wagtail stores the FormSubmission first (the whole chain runs, so other mixins
        # keep working); send_mail() stands down meanwhile; then the threads are started.
        self._messenger_delivering = True
        try:
            submission = super().process_form_submission(form)
        finally:
            self._messenger_delivering = False
        try:
            self.deliver_as_messages(form, submission, conf)
        except Exception:
            logger.exception(
                "Form page %s: delivering submission %s as messages failed; emailed instead.",
                self.pk,
                submission.pk,
            )
            self._email_fallback(form, None)
        return submission

    def send_mail(self, form):
        if getattr(self, "_messenger_delivering", False):
            return None
        return super().send_mail(form)

    # -- overridable parts -----------------------------------------------------------------

    def get_messenger_email_fields(self, form):
        """``clean_name`` s that may hold the sender's email, in the order tried."""
        if self.messenger_email_field:
            return [self.messenger_email_field]
        typed = [name for name, field in form.fields.items() if isinstance(field, forms.EmailField)]
        named = [
            name
            for name in EMAIL_FIELDS
            if name in form.fields and name not in typed and is_single_line(form.fields[name])
        ]
        return typed + named

    def get_messenger_name_fields(self, form):
        """Tuples of ``clean_name`` s that may hold the sender's name, in the order tried
        (the fields of a tuple are joined with spaces)."""
        explicit = self.messenger_name_field
        if explicit:
            return [(explicit,) if isinstance(explicit, str) else tuple(explicit)]
        fields = form.fields
        found = [(name,) for name in NAME_FIELDS if name in fields]
        found += [pair for pair in NAME_PARTS if all(name in fields for name in pair)]
        found += [
            (name,)
            for name, field in fields.items()
            if name.endswith("name")
            and not name.startswith(NOT_A_PERSON)
            and is_single_line(field)
            and (name,) not in found
        ]
        return found

    def get_messenger_sender_email(self, form):
        """The guest sender's email: the first of :meth:`get_messenger_email_fields` with
        a valid address; ``""`` when there is none."""
        data = form.cleaned_data
        for name in self.get_messenger_email_fields(form):
            value = str(data.get(name) or "").strip()
            if not value:
                continue
            try:
                validate_email(value)
            except ValidationError:
                continue
            return normalise_email(value)
        return ""

    def get_messenger_sender_name(self, form):
        """The first of :meth:`get_messenger_name_fields` that was filled in, else
        :attr:`messenger_anonymous_name`."""
        data = form.cleaned_data
        for names in self.get_messenger_name_fields(form):
            name = " ".join(" ".join(str(data.get(part) or "").split()) for part in names)
            if name.strip():
                return " ".join(name.split())
        return str(self.messenger_anonymous_name)

    def get_messenger_sender(self, form):
        """A :class:`Party`: the logged-in user, else a guest from the form's fields;
        ``None`` when an anonymous visitor gave no usable email (they could never read an
        answer, so the submission is emailed as before)."""
        user = getattr(form, "user", None)
        if user is not None and user.is_authenticated:
            return Party.for_user(user)
        email = self.get_messenger_sender_email(form)
        if not email:
            return None
        return Party.guest(self.get_messenger_sender_name(form), email)

    def get_messenger_listing(self):
        """The listing this form is about: the page itself or its nearest ancestor that
        is a listing; ``None`` otherwise."""
        for page in [self, *self.get_ancestors().reverse()]:
            if listings.is_listing(page):
                return page.specific
        return None

    def get_messenger_recipients(self, listing=None):
        """``(recipients, invalid)``: ``recipients`` is a list of ``(address, Party)``,
        one per valid address of ``to_address`` (an account when one has the address, else
        an invitee); with an empty ``to_address`` on a listing, the listing's seller
        (address ``None``)."""
        valid, invalid = split_addresses(self.to_address)
        if not valid and not invalid and listing is not None:
            party = listings.recipient_party(listing)
            return ([(None, party)] if party is not None else []), []
        recipients, seen = [], set()
        for address in valid:
            party = invitations.party_for_address(address)
            key = ("user", party.user.pk) if party.user is not None else ("email", party.email)
            if key not in seen:
                seen.add(key)
                recipients.append((address, party))
        return recipients, invalid

    def get_messenger_subject(self, form):
        return self.subject or self.title

    def render_messenger_message(self, form):
        """The first message: one ``Label: value`` line per field, in form order (the
        same text Wagtail's email has)."""
        return self.render_email(form)

    def get_messenger_data(self, form, submission):
        fields = [
            {"name": field.name, "label": str(field.label), "value": display_value(value)}
            for field in form
            if field.name in form.cleaned_data
            for value in [form.cleaned_data[field.name]]
        ]
        return {"form_page": self.pk, "form_submission": submission.pk, "fields": fields}

    # -- delivery --------------------------------------------------------------------------

    def deliver_as_messages(self, form, submission, conf):
        """Start one thread per recipient; what cannot become a thread is emailed as
        Wagtail would. The submission is already stored whatever happens here."""
        site = self.get_site()
        sender = self.get_messenger_sender(form)
        if sender is None:
            logger.info(
                "Form page %s: submission %s has no sender email; emailed instead.",
                self.pk,
                submission.pk,
            )
            return self._email_fallback(form, None)
        listing = self.get_messenger_listing()
        recipients, invalid = self.get_messenger_recipients(listing)
        for address in invalid:
            logger.warning(
                "Form page %s: recipient address %r is not valid; no thread for it.",
                self.pk,
                address,
            )
        if not recipients:
            if self.to_address or listing is not None:
                return self._email_fallback(form, None)
            return []  # no address and no listing: Wagtail only stores it, and so do we
        body = self.render_messenger_message(form)
        data = self.get_messenger_data(form, submission)
        failed, threads = [], []
        for address, recipient in recipients:
            try:
                posted = conversations.start_thread(
                    sender=sender,
                    recipient=recipient,
                    body=body,
                    site=site,
                    listing=listing,
                    subject=self.get_messenger_subject(form),
                    origin=Thread.Origin.CONTACT_FORM,
                    data=data,
                    conf=conf,
                )
            except MessengerError as error:
                logger.warning(
                    "Form page %s: no thread to %s (%s); emailed instead.",
                    self.pk,
                    address or recipient.describe(),
                    error,
                )
                failed.append(address)
            except Exception:
                logger.exception(
                    "Form page %s: starting a thread to %s failed; emailed instead.",
                    self.pk,
                    address or recipient.describe(),
                )
                failed.append(address)
            else:
                threads.append(posted.thread)
        if threads and sender.kind == Participant.Kind.GUEST:
            guests.send_link_on_commit(sender.email, thread=threads[0], site=site)
        if len(failed) == len(recipients):
            self._email_fallback(form, None)
        elif failed:
            self._email_fallback(form, [address for address in failed if address])
        return threads

    def _email_fallback(self, form, addresses):
        """Email as Wagtail does: to ``to_address`` (``addresses=None``) or to some of
        its addresses. With nobody to email, the stored submission is all there is."""
        if addresses is None and self.to_address:
            super().send_mail(form)
        elif addresses:
            wagtail_send_mail(self.subject, self.render_email(form), addresses, self.from_address)
        else:
            logger.error(
                "Form page %s: a submission reached nobody; it is kept in the form's submissions.",
                self.pk,
            )
        return []
