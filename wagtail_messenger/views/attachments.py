"""Attachment downloads: only through this view, only for people who see the message.

Participants (users, team members, guests proven by their private link) and moderators
get the file; anybody else gets 404, exactly as for a missing attachment. A message
hidden by moderators or removed by its author hides its attachment from participants.
From S3 the answer is a redirect to a short-lived signed URL (the browser fetches the
file from S3, no request of the site waits on it); from the local private folder the
file is streamed with headers that stop browsers from rendering it. Signing the URL or
opening the file must end within ``WAGTAILMESSENGER_STORAGE_TIMEOUT`` (a wall-clock
:class:`~wagtail_messenger.deadlines.Deadline`), else the answer is 503.
"""

from functools import partial

from django.http import FileResponse, Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from ..actors import Actor
from ..conf import get_setting
from ..deadlines import Deadline
from ..exceptions import NotAllowed
from ..frontend import page_context
from ..models import Attachment, Message
from ..services import access
from ..storage import get_attachment_backend, is_s3, storage_errors

HIDDEN_STATES = {Message.State.HIDDEN, Message.State.REMOVED}


def _private(response):
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Referrer-Policy"] = "no-referrer"
    return response


def _close_late(handle, _error):
    if handle is not None:
        handle.close()


def get_downloadable(actor, attachment_id):
    """The attachment if ``actor`` may see it, else :class:`Http404`."""
    attachment = Attachment.objects.select_related("message").filter(pk=attachment_id).first()
    if attachment is None:
        raise Http404
    message = attachment.message
    try:
        thread = access.get_visible_thread(actor, message.thread_id)
    except NotAllowed:
        raise Http404
    if not actor.is_moderator:
        if message.state in HIDDEN_STATES:
            raise Http404
        if not access.visible_messages(actor, thread).filter(pk=message.pk).exists():
            raise Http404
    return attachment


@require_safe
def download(request, attachment_id):
    attachment = get_downloadable(Actor.from_request(request), attachment_id)
    if attachment.is_expired or not attachment.file:
        response = TemplateResponse(
            request,
            "wagtail_messenger/attachment_expired.html",
            {**page_context(request), "attachment": attachment},
            status=410,
        )
        return _private(response)
    backend = get_attachment_backend()
    deadline = Deadline()  # the storage must answer within WAGTAILMESSENGER_STORAGE_TIMEOUT
    try:
        if is_s3(backend):
            parameters = {
                "ResponseContentDisposition": content_disposition_header(True, attachment.name),
                "ResponseContentType": attachment.content_type,
            }
            sign = partial(
                backend.url, parameters=parameters, expire=get_setting("ATTACHMENT_URL_EXPIRY")
            )
            url = deadline.run(sign, attachment.file.name)
            return _private(HttpResponseRedirect(url))
        handle = deadline.run(backend.open, attachment.file.name, "rb", on_late=_close_late)
    except FileNotFoundError:
        raise Http404
    except storage_errors():
        problem = _("The file cannot be downloaded right now. Please try again later.")
        response = TemplateResponse(
            request,
            "wagtail_messenger/problem.html",
            {**page_context(request), "problem": problem},
            status=503,
        )
        return _private(response)
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=attachment.name,
        content_type=attachment.content_type,
    )
    response["Content-Security-Policy"] = "sandbox"
    return _private(response)
