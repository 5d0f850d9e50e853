"""Views of the moderation panel (wired by :mod:`wagtail_messenger.viewsets`).

Explicit subclasses of Wagtail's generic admin views; every write goes through
:mod:`wagtail_messenger.services.moderation`, which checks the permission again.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Exists, OuterRef, Prefetch, Q
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views import View
from django_filters import BooleanFilter, ChoiceFilter, DateFromToRangeFilter, ModelChoiceFilter
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet
from wagtail.admin.ui.tables import BulkActionsCheckboxColumn
from wagtail.admin.views import generic
from wagtail.admin.widgets import HeaderButton
from wagtail.models import Page, Site

from ..exceptions import MessengerError
from ..ids import parse_id
from ..models import Attachment, Ban, Message, Participant, Report, SuppressedAddress, Thread
from ..models.team import NOTE_MAX_LENGTH
from ..services import moderation, team


def redirect_back(request, default):
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return HttpResponseRedirect(target)
    return HttpResponseRedirect(default)


# -- threads -----------------------------------------------------------------------------


def listing_choices(request):
    return Page.objects.filter(
        pk__in=Thread.objects.filter(listing__isnull=False).values("listing_id")
    ).order_by("title")


class IdChoiceField(ModelChoiceFilter.field_class):
    """A model choice whose value must be an id (``ids.parse_id``) before it reaches
    the database: "¹" or a number past 64 bits is an invalid choice, not a 500."""

    def to_python(self, value):
        if value not in self.empty_values and parse_id(str(value)) is None:
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().to_python(value)


class IdChoiceFilter(ModelChoiceFilter):
    field_class = IdChoiceField


ASSIGNED_TO_ME = "me"
UNASSIGNED = "none"


def assignee_choices():
    choices = [(ASSIGNED_TO_ME, _("Assigned to me")), (UNASSIGNED, _("Unassigned"))]
    choices += [
        (str(user.pk), user.get_full_name() or user.get_username()) for user in team.moderators()
    ]
    return choices


class AssigneeFilter(ChoiceFilter):
    """ "Assigned to me", "unassigned" or one moderator; ``prefix`` reaches the thread
    from the filtered model (``"thread__"`` in the review queue)."""

    def __init__(self, *args, prefix="", **kwargs):
        self.prefix = prefix
        kwargs.setdefault("label", _("Assigned to"))
        kwargs.setdefault("choices", assignee_choices)
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        if value in (None, ""):
            return qs
        field = f"{self.prefix}assignee"
        if value == ASSIGNED_TO_ME:
            return qs.filter(**{field: self.parent.request.user})
        if value == UNASSIGNED:
            return qs.filter(**{f"{field}__isnull": True})
        return qs.filter(**{f"{field}_id": parse_id(value)})


class ThreadFilterSet(WagtailFilterSet):
    assignee = AssigneeFilter()
    site = IdChoiceFilter(label=_("Site"), queryset=Site.objects.all())
    status = ChoiceFilter(label=_("Status"), choices=Thread.Status.choices)
    reported = BooleanFilter(label=_("Reported"), field_name="is_reported")
    held = BooleanFilter(label=_("Held as spam"), field_name="has_held")
    has_attachments = BooleanFilter(label=_("Has attachments"), field_name="has_attachments")
    last_message_at = DateFromToRangeFilter(label=_("Last message"), widget=DateRangePickerWidget)
    listing = IdChoiceFilter(label=_("Listing"), queryset=listing_choices)

    class Meta:
        model = Thread
        fields = []


def annotate_threads(queryset):
    messages_in = Message.objects.filter(thread=OuterRef("pk"))
    return queryset.annotate(
        is_reported=Exists(
            Report.objects.filter(message__thread=OuterRef("pk"), status=Report.Status.OPEN)
        ),
        has_held=Exists(messages_in.filter(state=Message.State.HELD, moderated_at__isnull=True)),
        has_attachments=Exists(Attachment.objects.filter(message__thread=OuterRef("pk"))),
    )


def people(thread):
    return ", ".join(
        f"{p.display_name} <{p.email}>" if p.email else str(p.display_name)
        for p in thread.participants.all()
    )


people.short_description = _("People")


def attention(thread):
    notes = []
    if getattr(thread, "is_reported", False):
        notes.append(str(_("reported")))
    if getattr(thread, "has_held", False):
        notes.append(str(_("held")))
    return ", ".join(notes)


def assignee_name(thread):
    user = thread.assignee
    return (user.get_full_name() or user.get_username()) if user else ""


attention.short_description = _("Waiting for review")


class ThreadIndexView(generic.IndexView):
    any_permission_required = ["view"]
    template_name = "wagtail_messenger/admin/thread_index.html"
    search_fields = ["listing_title", "subject"]
    search_backend_name = None
    default_ordering = "-last_message_at"
    # CSV values that start like a formula are prefixed so spreadsheets show them as text.
    FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

    def get_base_queryset(self):
        return annotate_threads(
            Thread.objects.select_related("site", "listing", "assignee").prefetch_related(
                Prefetch("participants", queryset=Participant.objects.order_by("pk"))
            )
        )

    def search_queryset(self, queryset):
        if not self.is_searching:
            return queryset
        term = self.search_query
        people_match = Participant.objects.filter(thread=OuterRef("pk")).filter(
            Q(name__icontains=term)
            | Q(email__icontains=term)
            | Q(user__username__icontains=term)
            | Q(user__email__icontains=term)
        )
        text_match = Message.objects.filter(thread=OuterRef("pk"), body__icontains=term)
        return queryset.filter(
            Q(listing_title__icontains=term)
            | Q(subject__icontains=term)
            | Exists(people_match)
            | Exists(text_match)
        )

    @cached_property
    def columns(self):
        return [
            BulkActionsCheckboxColumn("bulk_actions", obj_type="thread"),
            *super().columns,
        ]

    def _get_title_column(self, field_name, column_class=None, **kwargs):
        from wagtail.admin.ui.tables import TitleColumn

        return super()._get_title_column(
            field_name,
            column_class or TitleColumn,
            get_title_id=lambda thread: f"thread_{thread.pk}_title",
            **kwargs,
        )

    def to_row_dict(self, thread):
        row = {}
        for field in self.list_export:
            if field == "participants":
                value = people(thread)
            elif field == "status":
                value = thread.get_status_display()
            else:
                value = getattr(thread, field)
            row[field] = "" if value is None else value
        return row

    def write_csv_row(self, writer, row_dict):
        safe = {}
        for key, value in row_dict.items():
            value = self.preprocess_field_value(key, value, self.FORMAT_CSV)
            if isinstance(value, str) and value.startswith(self.FORMULA_START):
                value = "'" + value
            safe[key] = value
        return writer.writerow(safe)


class ThreadInspectView(generic.InspectView):
    any_permission_required = ["view"]
    template_name = "wagtail_messenger/admin/thread_inspect.html"

    def get_object(self, queryset=None):
        return get_object_or_404(
            Thread.objects.select_related("site", "listing", "assignee"), pk=self.kwargs["pk"]
        )

    def get_page_subtitle(self):
        return str(self.object)

    def get_fields(self):
        return []

    @cached_property
    def header_more_buttons(self):
        buttons = []
        if self.history_url_name:
            buttons.append(
                HeaderButton(
                    _("History"),
                    url=reverse(self.history_url_name, args=[self.object.pk]),
                    icon_name="history",
                )
            )
        return buttons + list(super().header_more_buttons)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        thread = self.object
        participants = list(thread.participants.select_related("user").order_by("pk"))
        banned_users = set(
            Ban.objects.filter(
                user_id__in=[p.user_id for p in participants if p.user_id]
            ).values_list("user_id", flat=True)
        )
        banned_emails = {
            e.lower()
            for e in Ban.objects.filter(
                user__isnull=True, email__in=[p.email for p in participants if p.email]
            ).values_list("email", flat=True)
        }
        # Mail to these addresses stopped (a hard bounce or a complaint), and why.
        addresses = {(p.user.email if p.user_id else p.email).lower(): p for p in participants}
        stopped = {
            row.email: row
            for row in SuppressedAddress.objects.filter(email__in=[a for a in addresses if a])
        }
        for p in participants:
            p.is_banned = (p.user_id in banned_users) or (
                p.user_id is None and p.email.lower() in banned_emails
            )
            p.suppressed = stopped.get((p.user.email if p.user_id else p.email).lower())
        open_reports = Report.objects.filter(status=Report.Status.OPEN).select_related("reporter")
        thread_messages = list(
            thread.messages.select_related("sender", "attachment", "moderated_by")
            .prefetch_related(Prefetch("reports", queryset=open_reports, to_attr="open_reports"))
            .order_by("pk")
        )
        context.update(
            thread=thread,
            participants=participants,
            thread_messages=thread_messages,
            action_url=reverse(self.action_url_name, args=[thread.pk]),
            delete_url=self.get_delete_url(),
            State=Message.State,
            Status=Thread.Status,
            staff_notes=list(thread.staff_notes.select_related("author")),
            note_max_length=NOTE_MAX_LENGTH,
            moderators=list(team.moderators()),
        )
        return context

    action_url_name = None
    history_url_name = None


class ThreadActionView(View):
    """POST-only: one moderation action on a thread, a message in it or a participant."""

    http_method_names = ["post"]
    inspect_url_name = None

    ACTIONS = {
        "close": lambda user, thread, post: moderation.close_thread(user, thread.pk),
        "reopen": lambda user, thread, post: moderation.reopen_thread(user, thread.pk),
        "spam": lambda user, thread, post: moderation.mark_thread_spam(user, thread.pk),
        "not_spam": lambda user, thread, post: moderation.mark_thread_not_spam(user, thread.pk),
        "hide": lambda user, thread, post: moderation.hide_message(
            user, _in_thread(thread, post.get("message")), post.get("reason", "")
        ),
        "unhide": lambda user, thread, post: moderation.unhide_message(
            user, _in_thread(thread, post.get("message"))
        ),
        "release": lambda user, thread, post: moderation.release_message(
            user, _in_thread(thread, post.get("message"))
        ),
        "reject": lambda user, thread, post: moderation.reject_message(
            user, _in_thread(thread, post.get("message"))
        ),
        "dismiss": lambda user, thread, post: moderation.dismiss_reports(
            user, _in_thread(thread, post.get("message"))
        ),
        "ban": lambda user, thread, post: moderation.ban_sender(
            user, _participant_in(thread, post.get("participant")), post.get("reason", "")
        ),
        "note": lambda user, thread, post: team.add_note(user, thread.pk, post.get("text", "")),
        "assign_me": lambda user, thread, post: team.assign(user, thread.pk, user.pk),
        "unassign": lambda user, thread, post: team.assign(user, thread.pk, None),
        "assign": lambda user, thread, post: team.assign(
            user, thread.pk, _user_id(post.get("assignee"))
        ),
    }
    DONE = {
        "close": _("The conversation was closed."),
        "reopen": _("The conversation was opened again."),
        "spam": _("Marked as spam."),
        "not_spam": _("Marked as not spam; held messages were delivered."),
        "hide": _("The message was hidden."),
        "unhide": _("The message is visible again."),
        "release": _("The message was delivered."),
        "reject": _("The message stays held as spam."),
        "dismiss": _("The reports were dismissed."),
        "ban": _("The sender is blocked site-wide."),
        "note": _("The note was added. Only moderators see it."),
        "assign_me": _("The conversation is assigned to you."),
        "unassign": _("The conversation is no longer assigned."),
        "assign": _("The conversation was assigned."),
    }

    def dispatch(self, request, *args, **kwargs):
        if not moderation.is_moderator(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def post(self, request, pk):
        thread = get_object_or_404(Thread, pk=pk)
        action = request.POST.get("action", "")
        back = reverse(self.inspect_url_name, args=[thread.pk])
        if action not in self.ACTIONS:
            messages.error(request, _("Unknown action."))
            return redirect_back(request, back)
        try:
            self.ACTIONS[action](request.user, thread, request.POST)
        except MessengerError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, self.DONE[action])
        return redirect_back(request, back)


def _in_thread(thread, message_id):
    """A message id from the form, only if it belongs to this thread."""
    try:
        return Message.objects.only("pk").get(pk=parse_id(message_id), thread=thread).pk
    except Message.DoesNotExist:
        raise MessengerErrorNotFound() from None


def _user_id(value):
    user_id = parse_id(value)
    if user_id is None:
        raise MessengerErrorNoModerator()
    return user_id


class MessengerErrorNoModerator(MessengerError):
    default_message = _("Choose a moderator.")


def _participant_in(thread, participant_id):
    try:
        return Participant.objects.only("pk").get(pk=parse_id(participant_id), thread=thread).pk
    except Participant.DoesNotExist:
        raise MessengerErrorNotFound() from None


class MessengerErrorNotFound(MessengerError):
    default_message = _("That is not part of this conversation.")


class ThreadDeleteView(generic.DeleteView):
    def delete_action(self):
        moderation.delete_threads(self.request.user, [self.object.pk])
