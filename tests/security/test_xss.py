"""The XSS corpus × every user-controlled field × every page, JSON answer, admin screen
and email that shows them, checked on the server: no payload comes out where a browser
would run it, and plain-text emails show what people typed, not HTML entities.
(tests/browser/test_security_xss.py loads the same pages in Chromium.)"""

from datetime import timedelta
from urllib.parse import quote

import pytest
from django.core import mail
from django.utils import timezone

from wagtail_messenger.models import ContactPreference, MessengerSettings, OutboxEmail
from wagtail_messenger.services import digests, guests, invitations, mailer, outbox
from wagtail_messenger.services.notifications import mute_token

from .figures import record
from .world import build_world, in_savepoint
from .xss import FIELDS, MARKER, PAYLOADS, decode, emails_sent, placements, scan_response

pytestmark = pytest.mark.django_db


def screens(w, values):
    """``[(screen, actor, path)]``: every screen the fields show on."""
    search = quote(values["search"])
    a, g, t = (w.threads[k].pk for k in "AGT")
    return [
        ("listing page", "anonymous", w.listing.url),
        ("compose", "unrelated", f"/messages/new/{w.listing.pk}/"),
        ("inbox (seller)", "seller", "/messages/"),
        ("inbox search", "seller", f"/messages/?q={search}"),
        ("inbox (team)", "team_member", "/messages/"),
        ("inbox (guest)", "guest", "/messages/"),
        ("thread (users)", "seller", f"/messages/{a}/"),
        ("thread (guest)", "seller", f"/messages/{g}/"),
        ("thread (as guest)", "guest", f"/messages/{g}/"),
        ("thread (team)", "team_member", f"/messages/{t}/"),
        ("poll JSON", "seller", f"/messages/{a}/poll/?after=0"),
        ("older JSON", "seller", f"/messages/{a}/older/"),
        ("unread JSON", "seller", "/messages/unread/?threads=1"),
        (
            "mute page",
            "anonymous",
            f"/messages/mute/{mute_token(w.participants[('A', 'seller')])}/",
        ),
        ("admin dashboard", "moderator", "/admin/"),
        ("admin threads", "moderator", "/admin/messenger/threads/"),
        ("admin threads search", "moderator", f"/admin/messenger/threads/?q={search}"),
        ("admin inspect (users)", "moderator", f"/admin/messenger/threads/inspect/{a}/"),
        ("admin inspect (guest)", "moderator", f"/admin/messenger/threads/inspect/{g}/"),
        ("admin inspect (team)", "moderator", f"/admin/messenger/threads/inspect/{t}/"),
        ("admin history", "moderator", f"/admin/messenger/threads/history/{a}/"),
        ("admin review queue", "moderator", "/admin/messenger/queue/"),
        ("admin blocks", "moderator", "/admin/messenger/blocks/"),
        ("admin stopped emails", "moderator", "/admin/messenger/stopped-emails/"),
        (
            "admin bulk delete",
            "moderator",
            f"/admin/bulk/wagtail_messenger/thread/messenger_delete/?id={a}",
        ),
        (
            "admin settings",
            "admin",
            f"/admin/settings/wagtail_messenger/messengersettings/{w.site.pk}/",
        ),
    ]


def send_emails(w, values):
    """The emails the fields go into: new message notifications (sent while the world
    was built), a guest's link, an invitation, a moderator's alert, a daily summary."""
    guests.send_link_email("gail@example.com", w.threads["G"].pk)
    message = w.messages["T"][0]
    _row, url = invitations.issue_invitation("invitee@example.com", thread=w.threads["T"])
    invitee = type("Invitee", (), {"email": "invitee@example.com"})
    invitations.render_invitation(invitee, message, url).send()
    ContactPreference.objects.update_or_create(
        user=w.users["moderator"], defaults={"moderation_alerts": True}
    )
    mailer.send_moderator_alert("reported", w.messages["G"][0].pk)
    ContactPreference.objects.update_or_create(
        user=w.users["seller"], defaults={"email_frequency": "daily"}
    )
    since = (timezone.now() - timedelta(days=1)).isoformat()
    row = outbox.build(
        OutboxEmail.Kind.DIGEST, "digest:xss", user=w.users["seller"].pk, since=since
    )
    summary = digests.render_digest(row)
    assert summary is not None, "the seller has unread conversations"
    summary.send()


def words(text):
    return " ".join(text.split())


def verbatim(typed, content):
    """Plain text shows what was typed (line breaks in a header may become spaces); a
    subject is cut at 200 characters (``emails.clean_header``), so at its end a
    beginning of what was typed is what was typed."""
    typed, content = words(typed), words(content)
    if typed in content:
        return True
    return len(content) >= 199 and any(
        content.endswith(typed[:n].rstrip()) for n in range(len(typed), 0, -1)
    )


def run_round(site, listing_index, make_user, values, capture):
    mail.outbox.clear()
    with capture(execute=True):
        w = build_world(site, listing_index, make_user, text=values.__getitem__)
    site.site_name = values["site_name"]
    site.save()
    conf = MessengerSettings.for_site(site)
    conf.blocked_words = values["settings_text"]  # after the messages: none is held
    conf.save()
    results = []
    for screen, actor, path in screens(w, values):
        response = w.fresh_client(actor).get(path)
        assert response.status_code == 200, (screen, response.status_code)
        shown, hits = scan_response(response)
        results.append((screen, shown, hits, []))
    send_emails(w, values)
    for subject, text, html in emails_sent():
        for part, content in (("subject", subject), ("text", text)):
            shown = set(MARKER.findall(content))
            mangled = [
                n for n in shown if not verbatim(PAYLOADS[decode(n)[0]].format(n=n), content)
            ]
            results.append((f"email {part}", shown, set(), mangled))
        if html:
            from .xss import executable

            results.append(("email HTML", set(MARKER.findall(html)), executable(html), []))
    return results


_RESULTS = []


def results_of_all_rounds(site, listing_index, make_user, capture):
    """Every round's results, worked out once for the two tests below (plain data)."""
    if not _RESULTS:
        for values in placements():
            _RESULTS.append(
                in_savepoint(
                    lambda values=values: run_round(site, listing_index, make_user, values, capture)
                )
            )
    return [result for round_results in _RESULTS for result in round_results]


def test_payloads_come_out_escaped(
    site, listing_index, make_user, django_capture_on_commit_callbacks
):
    """No payload, in any field, comes out anywhere a browser would run it."""
    results = results_of_all_rounds(
        site, listing_index, make_user, django_capture_on_commit_callbacks
    )
    executed, shown_on = [], {}
    for screen, shown, hits, _bad in results:
        for number in shown:
            shown_on.setdefault(decode(number)[1], set()).add(screen)
        executed += [f"{screen}: payload {decode(n)} {PAYLOADS[decode(n)[0]]!r}" for n in hits]
    screens_seen = {s for on in shown_on.values() for s in on}
    record(
        "XSS (server)",
        payloads=len(PAYLOADS),
        fields=len(FIELDS),
        screens=len(screens_seen),
        rounds=len(_RESULTS),
        executable=len(set(executed)),
    )
    # Every field reached at least one screen (else its payloads proved nothing).
    assert set(shown_on) == set(FIELDS), set(FIELDS) - set(shown_on)
    assert not executed, "\n".join(sorted(set(executed)))


def test_plain_text_emails_show_what_was_typed(
    site, listing_index, make_user, django_capture_on_commit_callbacks
):
    """Subjects and text parts are not HTML: ``<`` and ``&`` stay as typed, no entities."""
    results = results_of_all_rounds(
        site, listing_index, make_user, django_capture_on_commit_callbacks
    )
    mangled = sorted(
        {
            f"{screen}: payload {decode(n)} {PAYLOADS[decode(n)[0]]!r}"
            for screen, _shown, _hits, bad in results
            for n in bad
        }
    )
    checked = sum(len(shown) for screen, shown, _h, _b in results if screen.startswith("email "))
    record("XSS (plain-text email)", markers_checked=checked, mangled=len(mangled))
    assert checked
    assert not mangled, "shown with HTML entities or changed:\n" + "\n".join(mangled)
