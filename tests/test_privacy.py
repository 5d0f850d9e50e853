"""Personal data: "download my data" for accounts and guests, erasure without
cascading (account deletion, a guest's confirmed request, the command), and the
admin's export for any person (audit-logged)."""

import io
import json
import zipfile
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from wagtail.models import ModelLogEntry

from wagtail_messenger.actors import GUEST_SESSION_KEY
from wagtail_messenger.models import (
    AccessToken,
    Attachment,
    DataExport,
    MessengerSettings,
    OutboxEmail,
    Participant,
)
from wagtail_messenger.services import maintenance
from wagtail_messenger.services.parties import Party

pytestmark = pytest.mark.django_db

PREFERENCES = reverse("wagtail_messenger:preferences")
YOUR_DATA = reverse("wagtail_messenger:your_data")
REQUEST = reverse("wagtail_messenger:request_data_export")
ERASE = reverse("wagtail_messenger:erase_my_data")
INBOX = reverse("wagtail_messenger:inbox")
ADMIN = reverse("messenger_privacy:index")


@pytest.fixture(autouse=True)
def _own_private_folder(private_folder):
    """Every test of this module stores its files in a private folder of its own."""


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """``with committed():`` runs what waits for the commit (tasks, emails, files)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def attach(message, name, content):
    attachment = Attachment(
        message=message, name=name, content_type="application/pdf", size=len(content)
    )
    attachment.file.save("upload", ContentFile(content), save=False)
    attachment.save()
    return attachment


def as_guest(client, email):
    session = client.session
    session[GUEST_SESSION_KEY] = email
    session.save()


def export_link():
    """The download path in the last email (the outbox sent it after the task)."""
    body = mail.outbox[-1].body
    url = next(line for line in body.splitlines() if "/data/export/" in line)
    return url[url.index("/messages/") :] if "/messages/" in url else url


def unzip(response):
    content = b"".join(response.streaming_content)
    return zipfile.ZipFile(io.BytesIO(content))


def test_a_user_downloads_their_conversations_and_only_their_files(
    client, committed, start, seller, buyer, make_user, listing, private_folder
):
    other = make_user("other")
    posted = start(buyer, seller, body="Is the bike still there?", listing=listing)
    mine = attach(posted.message, "my-offer.pdf", b"%PDF buyer's offer")
    answer = start(seller, buyer, body="unused")  # a second thread, not with an attachment
    theirs_thread = start(other, seller, body="Secret thread of somebody else").thread
    client.force_login(seller)
    client.post(
        reverse("wagtail_messenger:thread", args=[posted.thread.pk]),
        {"body": "Yes, come on Saturday"},
    )
    reply = posted.thread.messages.order_by("-id").first()
    attach(reply, "seller-invoice.pdf", b"%PDF seller invoice")

    client.force_login(buyer)
    page = client.get(PREFERENCES).content.decode()
    assert "Your data" in page and "Download my data" in page
    with committed():
        response = client.post(REQUEST, follow=True)
    assert "Your data is being prepared." in response.content.decode()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["buyer@example.com"]
    assert "Your data is ready" in mail.outbox[0].subject
    link = export_link()
    assert link in client.get(PREFERENCES).content.decode()

    download = client.get(link)
    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"
    archive = unzip(download)
    names = archive.namelist()
    data = json.loads(archive.read("conversations.json"))
    titles = {t["id"] for t in data["conversations"]}
    assert titles == {posted.thread.pk, answer.thread.pk}
    assert theirs_thread.pk not in titles
    texts = [m["text"] for t in data["conversations"] for m in t["messages"]]
    assert "Is the bike still there?" in texts and "Yes, come on Saturday" in texts
    assert "Secret thread of somebody else" not in json.dumps(data)
    first = next(t for t in data["conversations"] if t["id"] == posted.thread.pk)
    sellers_message = next(m for m in first["messages"] if m["text"] == "Yes, come on Saturday")
    assert sellers_message["sender"] == "Seller" and sellers_message["mine"] is False
    assert sellers_message["attachment"]["name"] == "seller-invoice.pdf"
    assert sellers_message["attachment"]["file"] is None  # metadata only: not theirs
    attached = [n for n in names if n.startswith("attachments/")]
    assert attached == [f"attachments/{posted.message.pk}-my-offer.pdf"]
    assert archive.read(attached[0]) == b"%PDF buyer's offer"
    html = archive.read("conversations.html").decode()
    assert "Yes, come on Saturday" in html and "<script" not in html
    assert "Is the bike still there?" in archive.read("conversations.txt").decode()
    assert mine.pk  # the buyer's file stays where it was

    # Another person, even signed in, gets 404; after expiry the owner gets 410.
    client.force_login(seller)
    assert client.get(link).status_code == 404
    client.logout()
    assert client.get(link).status_code == 302  # to the login page
    client.force_login(buyer)
    DataExport.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = client.get(link)
    assert expired.status_code == 410 and "expired" in expired.content.decode()


def test_one_export_an_hour(client, buyer):
    client.force_login(buyer)
    assert client.post(REQUEST).status_code == 302
    second = client.post(REQUEST)
    assert second.status_code == 429
    assert "a short while ago" in second.content.decode()
    assert DataExport.objects.count() == 1
    DataExport.objects.update(created_at=timezone.now() - timedelta(hours=1, seconds=1))
    assert client.post(REQUEST).status_code == 302
    assert client.get(REQUEST).status_code == 405  # GET changes nothing


def test_a_guest_exports_through_their_link_session(client, committed, start, seller):
    start(Party.guest("Gus", "gus@example.com"), seller, body="Guest question")
    assert client.get(YOUR_DATA).status_code == 302  # nobody: to the login page
    as_guest(client, "gus@example.com")
    page = client.get(YOUR_DATA).content.decode()
    assert "Download my data" in page and "Erase my conversations" in page
    with committed():
        client.post(REQUEST)
    assert mail.outbox[-1].to == ["gus@example.com"]
    archive = unzip(client.get(export_link()))
    data = json.loads(archive.read("conversations.json"))
    assert [m["text"] for m in data["conversations"][0]["messages"]] == ["Guest question"]
    assert data["conversations"][0]["messages"][0]["sender"] == "Gus (guest)"

    as_guest(client, "someone-else@example.com")
    assert client.get(export_link()).status_code == 404


def test_deleting_an_account_keeps_the_other_sides_history(
    client, committed, start, seller, buyer, private_folder
):
    posted = start(buyer, seller, body="I would like to buy it")
    attachment = attach(posted.message, "id-card.pdf", b"%PDF private")
    stored = private_folder / attachment.file.name
    assert stored.exists()
    client.force_login(seller)
    assert (
        "I would like to buy it" in client.get(INBOX, {"q": "buyer@example.com"}).content.decode()
    )

    with committed():
        buyer.delete()

    row = Participant.objects.get(thread=posted.thread, is_initiator=True)
    assert (row.user_id, row.name, row.email) == (None, "Deleted user", "")
    assert not Attachment.objects.filter(pk=attachment.pk).exists() and not stored.exists()
    thread_page = client.get(reverse("wagtail_messenger:thread", args=[posted.thread.pk]))
    html = thread_page.content.decode()
    assert thread_page.status_code == 200
    assert "I would like to buy it" in html and "Deleted user" in html and "Buyer" not in html
    for query in ("buyer@example.com", "Buyer"):
        found = client.get(INBOX, {"q": query}).content.decode()
        assert "I would like to buy it" not in found


def test_moderators_see_deleted_user_and_cannot_find_the_email(
    client, start, seller, buyer, moderator
):
    posted = start(buyer, seller, body="Hello from the buyer")
    buyer.delete()
    client.force_login(moderator)
    threads = reverse("messenger_threads:index")
    assert (
        posted.thread.title not in client.get(threads, {"q": "buyer@example.com"}).content.decode()
    )
    inspect = client.get(reverse("messenger_threads:inspect", args=[posted.thread.pk]))
    html = inspect.content.decode()
    assert "Deleted user" in html and "buyer@example.com" not in html


def test_a_guest_erases_their_conversations_after_confirming(client, committed, start, seller):
    posted = start(Party.guest("Gus", "gus@example.com"), seller, body="Guest asks")
    attach(posted.message, "guest.pdf", b"%PDF guest")
    AccessToken.objects.issue(email="gus@example.com", purpose="guest", max_age=timedelta(days=1))
    as_guest(client, "gus@example.com")
    confirm = client.get(ERASE)
    assert confirm.status_code == 200 and "cannot be undone" in confirm.content.decode()
    assert Participant.objects.filter(email="gus@example.com").exists()  # GET changed nothing

    with committed():
        done = client.post(ERASE)
    assert done.status_code == 200 and "were erased" in done.content.decode()
    row = Participant.objects.get(thread=posted.thread, kind=Participant.Kind.GUEST)
    assert (row.name, row.email) == ("Deleted user", "")
    assert not AccessToken.objects.filter(email="gus@example.com").exists()
    assert not Attachment.objects.exists()
    assert not OutboxEmail.objects.filter(recipient="gus@example.com").exists()
    assert client.get(YOUR_DATA).status_code == 302  # the session forgot the address

    client.force_login(seller)
    html = client.get(reverse("wagtail_messenger:thread", args=[posted.thread.pk])).content.decode()
    assert "Guest asks" in html and "Deleted user" in html and "Gus" not in html
    assert "Guest asks" not in client.get(INBOX, {"q": "gus@example.com"}).content.decode()


def test_erase_needs_the_link_and_is_not_for_accounts(client, buyer):
    assert client.post(ERASE).status_code == 403
    client.force_login(buyer)
    assert client.post(ERASE).status_code == 400


def test_the_site_setting_blanks_the_erased_persons_messages(client, start, site, seller, buyer):
    MessengerSettings.objects.update_or_create(site=site, defaults={"erase_removes_messages": True})
    posted = start(buyer, seller, body="Please forget this text")
    buyer.delete()
    posted.message.refresh_from_db()
    assert (posted.message.body, posted.message.state) == ("", "removed")
    client.force_login(seller)
    html = client.get(reverse("wagtail_messenger:thread", args=[posted.thread.pk])).content.decode()
    assert "Please forget this text" not in html


def test_the_command_erases_by_email(start, seller):
    posted = start(Party.guest("Gus", "gus@example.com"), seller, body="By mail")
    out = io.StringIO()
    call_command("messenger_erase_person", "--email", "GUS@example.com", "--dry-run", stdout=out)
    assert "1 participant row(s) in 1 thread(s) would be anonymised" in out.getvalue()
    assert Participant.objects.filter(email="gus@example.com").exists()
    out = io.StringIO()
    call_command("messenger_erase_person", "--email", "gus@example.com", stdout=out)
    assert "1 participant row(s) in 1 thread(s) were anonymised" in out.getvalue()
    assert "1 message(s) were blanked" not in out.getvalue()
    assert posted.thread.messages.get().body == "By mail"
    assert not Participant.objects.filter(email="gus@example.com").exists()


def test_the_admin_exports_anybodys_data_with_an_audit_entry(
    client, committed, start, seller, buyer, moderator, make_user
):
    start(buyer, seller, body="Admin-visible question")
    client.force_login(seller)
    assert client.get(ADMIN).status_code == 302  # no admin access: to the admin login
    editor = make_user("editor")
    editor.user_permissions.add(Permission.objects.get(codename="access_admin"))
    client.force_login(editor)
    refused = client.get(ADMIN)  # the admin, but not a moderator: Wagtail's refusal
    assert refused.status_code == 302 and refused["Location"] == reverse("wagtailadmin_home")
    assert client.post(ADMIN, {"person": "buyer"}).status_code == 302
    assert not DataExport.objects.exists()
    client.force_login(moderator)
    assert "Personal data" in client.get(reverse("wagtailadmin_home")).content.decode()
    missing = client.post(ADMIN, {"person": "nobody@example.com"})
    assert missing.status_code == 400 and "No account or guest" in missing.content.decode()
    with committed():
        page = client.post(ADMIN, {"person": "buyer"}, follow=True).content.decode()
    assert "is being prepared" in page
    export = DataExport.objects.get()
    assert (export.user, export.requested_by) == (buyer, moderator)
    assert mail.outbox == []  # the person is not emailed; the moderator downloads it
    entry = ModelLogEntry.objects.get(action="wagtail_messenger.data_export")
    assert entry.user == moderator and entry.data == {"who": "buyer"}
    download = reverse("messenger_privacy:download", args=[export.pk])
    archive = unzip(client.get(download))
    assert "Admin-visible question" in archive.read("conversations.txt").decode()
    # Not the buyer's own link: it is the moderator's, the buyer gets 404 for it.
    client.force_login(buyer)
    assert client.get(reverse("wagtail_messenger:data_export", args=[export.pk])).status_code == 404


def test_maintenance_deletes_expired_exports_and_their_files(
    client, committed, buyer, private_folder
):
    client.force_login(buyer)
    with committed():
        client.post(REQUEST)
    export = DataExport.objects.get()
    stored = private_folder / export.file.name
    assert stored.exists()
    later = timezone.now() + timedelta(days=8)
    with committed():
        result = maintenance.run_all(now=later)["purge_data_exports"]
    assert result.exports_deleted == 1
    assert not DataExport.objects.exists() and not stored.exists()


def test_listing_notes_are_in_the_export_as_the_sites_words_and_survive_an_erase(
    client, committed, start, site, seller, buyer, listing
):
    MessengerSettings.objects.update_or_create(site=site, defaults={"erase_removes_messages": True})
    posted = start(buyer, seller, body="Still for sale?", listing=listing)
    listing.unpublish()  # the thread gets "This listing is no longer online."
    client.force_login(buyer)
    with committed():
        client.post(REQUEST)
    data = json.loads(unzip(client.get(export_link())).read("conversations.json"))
    [conversation] = data["conversations"]
    note = next(m for m in conversation["messages"] if m["kind"] == "note")
    assert note["text"] == "This listing is no longer online."
    assert (note["sender"], note["mine"]) == ("", False)
    # The seller erased: their messages go blank, the site's note stays for the buyer.
    seller.delete()
    html = client.get(reverse("wagtail_messenger:thread", args=[posted.thread.pk])).content
    assert "This listing is no longer online." in html.decode()
