"""Moderation pieces registered into Wagtail besides the viewsets: bulk actions on
threads, the dashboard summary item and the audit log actions."""

from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from wagtail.admin.site_summary import SummaryItem
from wagtail.admin.views.bulk_action import BulkAction
from wagtail.log_actions import LogFormatter

from .exceptions import MessengerError
from .ids import parse_ids
from .models import Thread
from .services import moderation, team

# -- bulk actions ------------------------------------------------------------------------


class ThreadBulkAction(BulkAction):
    """Base of the bulk actions on the Threads listing; moderators only."""

    models = [Thread]
    template_name = "wagtail_messenger/admin/bulk_confirm.html"
    service_action = None
    question = ""
    done = ""

    def dispatch(self, request, *args, **kwargs):
        if not moderation.is_moderator(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    @classmethod
    def get_queryset(cls, model, object_ids):
        """Only ids (``ids.parse_ids``) reach the database: ``?id=`` empty, "¹" or past
        64 bits is ignored, and none left is a 404 as for unknown ids."""
        if not isinstance(object_ids, list | tuple):  # "all": a queryset of ids
            return super().get_queryset(model, object_ids)
        return super().get_queryset(model, parse_ids(object_ids))

    def get_execution_context(self):
        return {"user": self.request.user, "service_action": self.service_action}

    @classmethod
    def execute_action(cls, objects, user=None, service_action=None, **kwargs):
        return moderation.bulk(user, service_action, [t.pk for t in objects]), 0

    def form_valid(self, form):
        try:
            return super().form_valid(form)
        except MessengerError as error:
            from django.contrib import messages
            from django.shortcuts import redirect

            messages.error(self.request, str(error))
            return redirect(self.next_url)

    def get_context_data(self, **kwargs):
        return {
            **super().get_context_data(**kwargs),
            "question": self.question,
            "action_label": self.display_name,
            "header_icon": "mail",
        }

    def get_success_message(self, num_parent_objects, num_child_objects):
        return self.done % {"count": num_parent_objects}


class MarkSpamBulkAction(ThreadBulkAction):
    display_name = _("Mark spam")
    action_type = "messenger_spam"
    aria_label = _("Mark the selected threads as spam")
    action_priority = 10
    service_action = "spam"
    question = _("Mark these conversations as spam? Nobody can write in them any more.")
    done = _("%(count)d conversation(s) marked as spam.")


class CloseBulkAction(ThreadBulkAction):
    display_name = _("Close")
    action_type = "messenger_close"
    aria_label = _("Close the selected threads")
    action_priority = 20
    service_action = "close"
    question = _("Close these conversations? They stay readable; nobody can write in them.")
    done = _("%(count)d conversation(s) closed.")


class DeleteBulkAction(ThreadBulkAction):
    display_name = _("Delete")
    action_type = "messenger_delete"
    aria_label = _("Delete the selected threads")
    action_priority = 30
    classes = {"serious"}
    service_action = "delete"
    question = _("Delete these conversations for everybody? This cannot be undone.")
    done = _("%(count)d conversation(s) deleted.")


BULK_ACTIONS = [MarkSpamBulkAction, CloseBulkAction, DeleteBulkAction]


# -- dashboard ---------------------------------------------------------------------------


class ReviewQueueSummaryItem(SummaryItem):
    order = 500
    template_name = "wagtail_messenger/admin/summary_item.html"

    def is_shown(self):
        return moderation.is_moderator(self.request.user)

    def get_context_data(self, parent_context):
        count = moderation.waiting_count()
        return {
            "count": count,
            "label": ngettext("message waits for review", "messages wait for review", count),
            "url": reverse("messenger_queue:index"),
        }


class AssignedSummaryItem(SummaryItem):
    """ "N conversations assigned to you" (open ones), linking to the filtered list."""

    order = 510
    template_name = "wagtail_messenger/admin/summary_item.html"

    def is_shown(self):
        return moderation.is_moderator(self.request.user)

    def get_context_data(self, parent_context):
        count = team.assigned_count(self.request.user)
        return {
            "count": count,
            "label": ngettext(
                "conversation assigned to you", "conversations assigned to you", count
            ),
            "url": reverse("messenger_threads:index") + "?assignee=me&status=open",
            "icon": "user",
        }


def add_summary_items(request, items):
    items.append(ReviewQueueSummaryItem(request))
    items.append(AssignedSummaryItem(request))


# -- audit log ---------------------------------------------------------------------------


class MessageLogFormatter(LogFormatter):
    template = ""

    def format_message(self, log_entry):
        data = log_entry.data or {}
        text = self.template % {"message": data.get("message", "?")}
        reason = data.get("reason")
        return f"{text}: {reason}" if reason else text


def register_log_actions(actions):
    def message_action(action, label, template):
        formatter = type(
            "_Formatter", (MessageLogFormatter,), {"label": label, "template": template}
        )
        actions.register_action(action)(formatter)

    message_action(moderation.HIDE, _("Hide message"), _("Hid message #%(message)s"))
    message_action(moderation.UNHIDE, _("Unhide message"), _("Made message #%(message)s visible"))
    message_action(
        moderation.DISMISS, _("Dismiss reports"), _("Dismissed the reports on message #%(message)s")
    )

    @actions.register_action(moderation.SPAM)
    class SpamFormatter(LogFormatter):
        label = _("Mark spam")

        def format_message(self, log_entry):
            if (log_entry.data or {}).get("message"):
                return _("Kept message #%(message)s held as spam") % log_entry.data
            return _("Marked the conversation as spam")

    @actions.register_action(moderation.NOT_SPAM)
    class NotSpamFormatter(LogFormatter):
        label = _("Mark not spam")

        def format_message(self, log_entry):
            data = log_entry.data or {}
            if data.get("message"):
                return _("Released held message #%(message)s") % data
            return ngettext(
                "Marked not spam; released %(count)d held message",
                "Marked not spam; released %(count)d held messages",
                len(data.get("released", [])),
            ) % {"count": len(data.get("released", []))}

    actions.register_action(moderation.CLOSE, _("Close conversation"), _("Closed the conversation"))
    actions.register_action(
        moderation.REOPEN, _("Reopen conversation"), _("Opened the conversation again")
    )

    @actions.register_action(moderation.BAN)
    class BanFormatter(LogFormatter):
        label = _("Block sender site-wide")

        def format_message(self, log_entry):
            return _("Blocked %(who)s site-wide") % {"who": (log_entry.data or {}).get("who", "?")}

    actions.register_action(team.NOTE, _("Add staff note"), _("Added a staff note"))
    actions.register_action(team.UNASSIGN, _("Unassign"), _("Unassigned the conversation"))

    @actions.register_action(team.ASSIGN)
    class AssignFormatter(LogFormatter):
        label = _("Assign")

        def format_message(self, log_entry):
            return _("Assigned the conversation to %(who)s") % {
                "who": (log_entry.data or {}).get("who", "?")
            }

    @actions.register_action(team.TEAM_ASSIGN)
    class TeamAssignFormatter(LogFormatter):
        label = _("Assign to a team member")

        def format_message(self, log_entry):
            who = (log_entry.data or {}).get("who")
            if who:
                return _("Gave the team's conversation to %(who)s") % {"who": who}
            return _("Took the team's conversation back from its member")

    @actions.register_action(moderation.UNBAN)
    class UnbanFormatter(LogFormatter):
        label = _("Lift site-wide block")

        def format_message(self, log_entry):
            return _("Lifted the site-wide block on %(who)s") % {
                "who": (log_entry.data or {}).get("who", "?")
            }

    @actions.register_action(moderation.RESUME_EMAIL)
    class ResumeEmailFormatter(LogFormatter):
        label = _("Send emails again")

        def format_message(self, log_entry):
            return _("Lifted the email suppression of %(who)s") % {
                "who": (log_entry.data or {}).get("who", "?")
            }

    @actions.register_action("wagtail_messenger.data_export")
    class DataExportFormatter(LogFormatter):
        label = _("Produce personal data export")

        def format_message(self, log_entry):
            return _("Produced the personal data export of %(who)s") % {
                "who": (log_entry.data or {}).get("who", "?")
            }
