"""Starting a conversation about a listing: the form behind the "Send message" button.

Logged-in users write directly; visitors without an account give a name and an email
address and receive a private link by email. Every refusal is shown in the page with the
visitor's text kept; nothing here answers 500.
"""

from django.contrib import messages
from django.contrib.auth.models import Group
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from wagtail.models import Page

from ..actors import Actor
from ..exceptions import MessengerError, RateLimited
from ..forms import ComposeForm
from ..frontend import render
from ..login import redirect_to_login
from ..models import Message, Participant
from ..services import attachments, conversations, guests, listings, ratelimit
from ..services.parties import Party
from ..services.settings import for_site
from ..services.spam import held_notice
from .limited import rate_limited


def visible_listing(request, page_id):
    """The live listing page ``page_id`` if this visitor may view it, else 404: a
    private or password-protected listing stays private here too."""
    page = Page.objects.live().filter(pk=page_id).first()
    if page is None:
        raise Http404
    page = page.specific
    for restriction in page.get_view_restrictions():
        if not restriction.accept_request(request):
            raise Http404
    if not listings.is_listing(page, request):
        raise Http404
    return page


def guest_name(actor):
    row = (
        # Confirmed rows only: a name someone typed with this address is not theirs.
        Participant.objects.filter(actor.participant_q())
        .order_by("-pk")
        .values_list("name", flat=True)
        .first()
    )
    return row or actor.guest_email


def compose_problem(page, conf, recipient, actor):
    """Why ``actor`` cannot write about ``page`` now (a sentence), or ``None``; guests
    on a site where only members write get ``LOGIN``."""
    if not conf.enabled:
        return _("Messaging is turned off on this site.")
    if listings.is_sold(page):
        return _("This listing was sold: it takes no new messages.")
    if recipient is None:
        return _("Nobody receives messages about this listing at the moment.")
    if not listings.accepts_contact(recipient):
        return _("This person does not accept messages at the moment.")
    if actor.user is not None and not isinstance(recipient, Group) and recipient == actor.user:
        return _("This is your own listing.")
    if actor.user is None and not conf.guests_may_write:
        return LOGIN
    return None


def conversation_about(page, recipient, actor):
    """The open conversation a signed-in user or a proven guest already has with the
    ``recipient`` of ``page`` (what a new message from them would join), or ``None``
    (always for a visitor whose address nothing proves)."""
    if actor.user is None and not actor.is_guest:
        return None
    sender = Party.for_actor(actor)
    return conversations.open_thread_between(sender, Party.for_recipient(recipient), page)


#: :func:`compose_problem`'s answer when only members may write here.
LOGIN = "login"


def start_conversation(request, actor, page, recipient, conf, form):
    """Start the conversation of a valid compose ``form`` (the page's and the API's):
    the posted result, after the per-site limits (a typed address gets a private link,
    capped per address). Raises :class:`MessengerError` (``RateLimited`` too)."""
    data = form.cleaned_data
    ask_identity = form.ask_identity
    if actor.user is not None:
        sender = Party.for_user(actor.user)
    elif actor.is_guest:
        sender = Party.guest(guest_name(actor), actor.guest_email)
    else:
        sender = Party.guest(data["name"], data["email"])
    site = page.get_site()
    ratelimit.check_new_thread(conf, request, sender, emails_link=ask_identity)
    with attachments.stored_upload(data.get("attachment"), conf) as upload:
        posted = conversations.start_thread(
            sender=sender,
            recipient=Party.for_recipient(recipient),
            body=data["body"],
            site=site,
            listing=page,
            idempotency_key=data["key"],
            upload=upload,
            conf=conf,
            # A guest's email is proven by their private link (session), not by
            # typing it: only then may the message join their existing thread.
            sender_proven=actor.user is not None or actor.is_guest,
        )
    if ask_identity and posted.created:
        guests.send_link_on_commit(sender.email, thread=posted.thread, site=site)
    return posted


@never_cache
def compose(request, page_id):
    page = visible_listing(request, page_id)
    conf = for_site(site=page.get_site())
    actor = Actor.from_request(request)
    recipient = listings.recipient_for(page, request, conf)
    context = {"listing_page": page, "conf": conf, "recipient": recipient}

    problem = compose_problem(page, conf, recipient, actor)
    if problem == LOGIN:
        return redirect_to_login(request.get_full_path())
    if problem:
        return render(
            request, "wagtail_messenger/problem.html", {**context, "problem": problem}, status=403
        )

    ask_identity = actor.user is None and not actor.is_guest
    form_kwargs = {"conf": conf, "ask_identity": ask_identity}
    if request.method != "POST":
        ongoing = conversation_about(page, recipient, actor)
        if ongoing is not None:
            messages.info(
                request,
                _("You already have a conversation about this listing: it continues here."),
            )
            return redirect(ongoing.get_absolute_url())
        form = ComposeForm(**form_kwargs)
        return render(request, "wagtail_messenger/compose.html", {**context, "form": form})

    form = ComposeForm(request.POST, request.FILES, **form_kwargs)
    if form.is_valid():
        try:
            posted = start_conversation(request, actor, page, recipient, conf, form)
        except RateLimited as error:
            kept = {**context, "kept_text": form.cleaned_data["body"]}
            return rate_limited(request, error, context=kept)
        except MessengerError as error:
            form.add_error(None, str(error))
        else:
            if posted.message.state == Message.State.HELD:
                messages.info(request, held_notice(posted.message, conf))
            elif not ask_identity:
                messages.success(request, _("Your message was sent."))
            if ask_identity:
                return redirect("wagtail_messenger:compose_sent", page_id=page.pk)
            return redirect(posted.thread.get_absolute_url())
    return render(request, "wagtail_messenger/compose.html", {**context, "form": form})


@never_cache
def compose_sent(request, page_id):
    """After a guest's first message: "check your email" (the address is not repeated,
    so the page says nothing about whom it was sent to)."""
    page = visible_listing(request, page_id)
    return render(
        request,
        "wagtail_messenger/compose_sent.html",
        {"listing_page": page, "request_link_url": reverse("wagtail_messenger:request_link")},
    )
