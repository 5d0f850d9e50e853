"""The moderation panel's review queue (held and reported messages) and its list of
site-wide blocks (wired by :mod:`wagtail_messenger.viewsets`); the threads' views are
in :mod:`.moderation`. Every write goes through
:mod:`wagtail_messenger.services.moderation`, which checks the permission again.
"""

from django.db.models import Prefetch
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from wagtail.admin.filters import WagtailFilterSet
from wagtail.admin.ui.tables import Column, DateColumn
from wagtail.admin.views import generic

from ..models import Ban, Message, Report, SuppressedAddress
from ..services import moderation
from .moderation import AssigneeFilter, assignee_name

# -- the review queue --------------------------------------------------------------------


def why_waiting(message):
    reasons = []
    if message.state == Message.State.HELD and message.moderated_at is None:
        reasons.append(
            _("held (score %(score)s): %(why)s")
            % {
                "score": f"{message.spam_score or 0:g}",
                "why": ", ".join(message.spam_reasons or []) or "-",
            }
        )
    reports = getattr(message, "open_reports", [])
    if reports:
        text = ngettext("%(count)d report", "%(count)d reports", len(reports)) % {
            "count": len(reports)
        }
        details = "; ".join(r.reason for r in reports if r.reason)
        reasons.append(f"{text}: {details}" if details else text)
    return " / ".join(str(r) for r in reasons)


class QueueFilterSet(WagtailFilterSet):
    assignee = AssigneeFilter(prefix="thread__")

    class Meta:
        model = Message
        fields = []


class AssignColumn(Column):
    """The thread's assignee and a POST form to take it ("Assign to me") or let it go."""

    cell_template_name = "wagtail_messenger/admin/queue_assign_cell.html"

    def __init__(self, *args, action_url, next_url, **kwargs):
        self.action_url = action_url
        self.next_url = next_url
        super().__init__(*args, **kwargs)

    def get_cell_context_data(self, instance, parent_context):
        context = super().get_cell_context_data(instance, parent_context)
        context.update(
            action_url=self.action_url(instance),
            next_url=self.next_url,
            thread=instance.thread,
            request=parent_context.get("request"),
            csrf_token=parent_context.get("csrf_token"),
        )
        return context


class QueueIndexView(generic.IndexView):
    filterset_class = QueueFilterSet
    any_permission_required = ["view"]
    page_title = _("Review queue")
    thread_inspect_url_name = None
    default_ordering = "created_at"

    def get_base_queryset(self):
        open_reports = Report.objects.filter(status=Report.Status.OPEN).order_by("pk")
        return (
            moderation.waiting_messages()
            .select_related("thread", "thread__assignee", "sender")
            .prefetch_related(Prefetch("reports", queryset=open_reports, to_attr="open_reports"))
        )

    @cached_property
    def columns(self):
        from wagtail.admin.ui.tables import TitleColumn

        def url(message):
            base = reverse(self.thread_inspect_url_name, args=[message.thread_id])
            return f"{base}#message-{message.pk}"

        return [
            TitleColumn(
                "body",
                label=_("Message"),
                accessor=lambda m: m.body[:120],
                get_url=url,
            ),
            Column("thread", label=_("Conversation"), accessor="thread"),
            Column("sender", label=_("From"), accessor=lambda m: m.sender.display_name),
            Column("why", label=_("Why"), accessor=why_waiting),
            AssignColumn(
                "assignee",
                label=_("Assigned to"),
                accessor=lambda m: assignee_name(m.thread),
                action_url=lambda m: reverse("messenger_threads:action", args=[m.thread_id]),
                next_url=self.request.get_full_path(),
            ),
            DateColumn("created_at", label=_("Sent"), sort_key="created_at"),
        ]

    def get_page_title(self):
        return self.page_title


# -- site-wide blocks --------------------------------------------------------------------


class BanIndexView(generic.IndexView):
    any_permission_required = ["view"]
    default_ordering = "-created_at"

    def get_base_queryset(self):
        return Ban.objects.select_related("user", "created_by")


class BanDeleteView(generic.DeleteView):
    page_title = _("Lift the site-wide block")
    success_message = _("The block on '%(object)s' was lifted.")

    @property
    def confirmation_message(self):
        return _("Lift the site-wide block on %(who)s? What they send will be delivered again.") % {
            "who": self.object
        }

    def delete_action(self):
        moderation.unban(self.request.user, self.object.pk)


class SuppressionIndexView(generic.IndexView):
    any_permission_required = ["view"]
    default_ordering = "-updated_at"
    search_fields = ["email"]

    def get_base_queryset(self):
        return SuppressedAddress.objects.all()


class SuppressionDeleteView(generic.DeleteView):
    page_title = _("Send emails again")
    success_message = _("Emails to '%(object)s' will be sent again.")

    @property
    def confirmation_message(self):
        return _(
            "Send emails to %(email)s again? The mail provider reported: %(reason)s. Do it "
            "only once the address works: more bounces or complaints harm the site's "
            "reputation with mail providers."
        ) % {"email": self.object.email, "reason": self.object.get_reason_display()}

    def delete_action(self):
        moderation.resume_email(self.request.user, self.object.pk)
