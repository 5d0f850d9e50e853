"""Attachments: validation on real bytes, private local storage, the download view and
the storage system checks."""

import io
import struct
import zlib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image, PngImagePlugin

from wagtail_messenger.actors import GUEST_SESSION_KEY
from wagtail_messenger.checks import check_attachment_storage
from wagtail_messenger.exceptions import AttachmentRejected
from wagtail_messenger.models import Attachment, Message, MessengerSettings
from wagtail_messenger.services import attachments
from wagtail_messenger.services.parties import Party

ACCEPTED = "JPG, PNG and PDF up to 5 MB are accepted."

# -- real files, made here ----------------------------------------------------------------


def jpeg_bytes(size=(40, 30), **save_options):
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "JPEG", **save_options)
    return out.getvalue()


def png_bytes(size=(40, 30), pnginfo=None):
    out = io.BytesIO()
    Image.new("RGB", size, (30, 200, 30)).save(out, "PNG", pnginfo=pnginfo)
    return out.getvalue()


def pdf_bytes(text="Invoice 42"):
    stream = f"BT /F1 12 Tf 20 20 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
    ]
    body, offsets = b"%PDF-1.4\n", []
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n%s\nendobj\n" % (number, obj)
    xref = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    body += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    body += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return body


def png_header_only(width, height):
    """A PNG whose header announces ``width`` x ``height`` pixels: a decompression bomb's
    shape, a few dozen bytes long."""

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + chunk(b"IEND", b"")
    )


def upload(name, content, content_type="application/octet-stream"):
    return SimpleUploadedFile(name, content, content_type=content_type)


@pytest.fixture(autouse=True)
def _own_private_folder(private_folder):
    """Every test of this module stores its files in a private folder of its own."""


@pytest.fixture
def conf():
    return MessengerSettings()  # the defaults: jpg, jpeg, png, pdf up to 5 MB


def refusal(file, conf):
    with pytest.raises(AttachmentRejected) as excinfo:
        attachments.check_upload(file, conf)
    return str(excinfo.value)


def stored_files():
    root = Path(attachments.get_attachment_backend().location)
    return sorted(p for p in root.rglob("*") if p.is_file())


# -- validation by content ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        ("photo.jpg", jpeg_bytes(), "image/jpeg"),
        ("photo.JPEG", jpeg_bytes(), "image/jpeg"),
        ("scratch.png", png_bytes(), "image/png"),
        ("invoice.pdf", pdf_bytes(), "application/pdf"),
    ],
)
def test_real_files_are_accepted_with_the_type_their_bytes_show(conf, name, content, content_type):
    # The browser's claim (text/html here) is ignored: the stored type comes from the bytes.
    checked = attachments.check_upload(upload(name, content, "text/html"), conf)
    assert checked.content_type == content_type
    assert checked.size == len(content)


def test_refusals_say_what_is_accepted(conf):
    assert attachments.accepted_sentence(conf) == ACCEPTED
    conf.allowed_extensions, conf.max_attachment_mb = "pdf", 2
    assert attachments.accepted_sentence(conf) == "PDF up to 2 MB are accepted."


def test_html_renamed_pdf_is_refused(conf):
    html = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
    assert refusal(upload("invoice.pdf", html), conf) == (
        f"The file contains web page or script code. {ACCEPTED}"
    )


def test_svg_renamed_png_is_refused(conf):
    svg = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="x()"/>'
    assert refusal(upload("photo.png", svg), conf).startswith(
        "The file contains web page or script code."
    )


def test_pdf_starting_with_html_is_refused(conf):
    polyglot = b"<html><body>hi</body></html>\n" + pdf_bytes()
    assert "web page or script code" in refusal(upload("invoice.pdf", polyglot), conf)


def test_pdf_header_must_be_at_the_start(conf):
    shifted = b"JUNK" * 10 + pdf_bytes()
    assert refusal(upload("invoice.pdf", shifted), conf) == (
        f"The file's content is not PDF although its name ends in .pdf. {ACCEPTED}"
    )


def test_jpeg_carrying_script_in_a_comment_is_refused(conf):
    polyglot = jpeg_bytes(comment=b"*/<script>fetch('//evil')</script>/*")
    assert polyglot.startswith(b"\xff\xd8\xff")
    assert "web page or script code" in refusal(upload("photo.jpg", polyglot), conf)


def test_png_carrying_html_in_a_text_chunk_is_refused(conf):
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "<HTML><BODY>hello</BODY></HTML>")
    assert "web page or script code" in refusal(upload("photo.png", png_bytes(pnginfo=info)), conf)


def test_marker_split_across_chunks_is_found(conf):
    content = pdf_bytes() + b" " * (attachments.CHUNK_SIZE - len(pdf_bytes()) - 3) + b"<script>"
    assert "web page or script code" in refusal(upload("invoice.pdf", content), conf)


def test_extension_must_match_content(conf):
    assert refusal(upload("invoice.pdf", jpeg_bytes()), conf) == (
        f"The file's content is not PDF although its name ends in .pdf. {ACCEPTED}"
    )
    assert "is not PNG" in refusal(upload("photo.png", jpeg_bytes()), conf)


@pytest.mark.parametrize("name", ["setup.exe", "page.html", "drawing.svg", "run.sh", "notes.txt"])
def test_extensions_outside_the_site_list_are_refused(conf, name):
    ext = name.rsplit(".", 1)[1]
    assert refusal(upload(name, b"MZ\x90\x00"), conf) == (
        f"Files ending in .{ext} cannot be attached. {ACCEPTED}"
    )


def test_editors_cannot_widen_the_list_to_html(conf):
    conf.allowed_extensions = "html, svg, pdf"  # bypassing the admin's validator
    assert refusal(upload("page.html", b"hello"), conf) == (
        "Files ending in .html cannot be attached. PDF up to 5 MB are accepted."
    )


def test_no_extension_is_refused(conf):
    assert refusal(upload("invoice", pdf_bytes()), conf).startswith(
        "The file name has no extension."
    )


def test_empty_file_is_refused(conf):
    assert refusal(upload("invoice.pdf", b""), conf) == f"The file is empty. {ACCEPTED}"


def test_oversized_file_is_refused(conf):
    conf.max_attachment_mb = 1
    big = pdf_bytes() + b"0" * (1024 * 1024)
    assert refusal(upload("invoice.pdf", big), conf) == (
        "The file is larger than 1 MB. JPG, PNG and PDF up to 1 MB are accepted."
    )


def test_size_is_counted_while_reading_not_taken_from_the_claim(conf):
    conf.max_attachment_mb = 1
    liar = upload("invoice.pdf", pdf_bytes() + b"0" * (1024 * 1024))
    liar.size = 10
    assert refusal(liar, conf).startswith("The file is larger than 1 MB.")


def test_decompression_bomb_is_refused(conf):
    bomb = png_header_only(50_000, 50_000)
    assert len(bomb) < 100
    assert refusal(upload("photo.png", bomb), conf) == (
        f"The image has too many pixels. {ACCEPTED}"
    )


def test_damaged_image_is_refused(conf):
    truncated = png_bytes()[:60]
    assert refusal(upload("photo.png", truncated), conf).startswith(
        "The image is damaged or incomplete."
    )


def test_text_files_when_allowed(conf):
    conf.allowed_extensions = "txt"
    checked = attachments.check_upload(upload("notes.txt", "Prix : 12 €\n".encode()), conf)
    assert checked.content_type == "text/plain; charset=utf-8"
    assert refusal(upload("notes.txt", b"\x00\x01\x02binary"), conf).startswith(
        "The text file contains binary data."
    )
    assert refusal(upload("notes.txt", b"caf\xe9"), conf).startswith(
        "The text file is not UTF-8 text."
    )
    assert refusal(upload("notes.txt", pdf_bytes()), conf).startswith(
        "The file is not plain text although its name ends in .txt."
    )


def test_attachments_turned_off(conf):
    conf.attachments_enabled = False
    assert refusal(upload("photo.jpg", jpeg_bytes()), conf) == (
        "Attachments are turned off on this site."
    )


@pytest.mark.parametrize(
    ("hostile", "shown"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Users\\me\\invoice.pdf", "invoice.pdf"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),  # RTL override removed: shows .exe
        ("in\x00vo\x1bice.pdf", "invoice.pdf"),
        ('<img src=x onerror="a()">.pdf', "_img src=x onerror=_a()__.pdf"),
        ("   ..pdf", "attachment.pdf"),
        ("x" * 500 + ".pdf", "x" * 116 + ".pdf"),
    ],
)
def test_hostile_names_are_cleaned_for_display(hostile, shown):
    assert attachments.clean_name(hostile) == shown


def test_rtl_override_cannot_disguise_an_executable(conf):
    assert refusal(upload("photo\u202egpj.exe", jpeg_bytes()), conf).startswith(
        "Files ending in .exe cannot be attached."
    )


# -- storing (the private local folder of the test settings) ------------------------------


@pytest.mark.django_db
def test_stored_under_a_server_key_never_the_name(start, buyer, seller, listing, conf):
    before = stored_files()
    hostile = upload("../../../..\\evil\u202e.pdf", pdf_bytes())
    with attachments.stored_upload(hostile, conf) as stored:
        posted = start(buyer, seller, listing=listing, upload=stored)
    attachment = posted.message.attachment
    assert attachment.name == "evil.pdf"
    assert attachment.content_type == "application/pdf"
    key = attachment.file.name
    assert key.startswith("messenger/") and "evil" not in key and ".." not in key
    assert len(stored_files()) == len(before) + 1
    with attachment.file.open("rb") as handle:
        assert handle.read() == pdf_bytes()


@pytest.mark.django_db
def test_refused_file_writes_nothing(start, buyer, seller, listing, conf):
    before = stored_files()
    with (
        pytest.raises(AttachmentRejected),
        attachments.stored_upload(upload("x.pdf", b"<html>"), conf) as stored,
    ):
        start(buyer, seller, listing=listing, upload=stored)
    assert stored_files() == before
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_failure_inside_the_block_deletes_the_file(start, buyer, seller, conf):
    before = stored_files()
    with (
        pytest.raises(Exception, match="yourself"),
        attachments.stored_upload(upload("a.jpg", jpeg_bytes()), conf) as stored,
    ):
        assert len(stored_files()) == len(before) + 1
        start(buyer, buyer, upload=stored)  # refused by the service
    assert stored_files() == before
    assert not Attachment.objects.exists()


@pytest.mark.django_db
def test_double_submit_keeps_one_file(start, buyer, seller, listing, conf):
    with attachments.stored_upload(upload("a.jpg", jpeg_bytes()), conf) as stored:
        first = start(buyer, seller, listing=listing, upload=stored, idempotency_key="k1")
    after_first = stored_files()
    with attachments.stored_upload(upload("a.jpg", jpeg_bytes()), conf) as stored:
        again = start(buyer, seller, listing=listing, upload=stored, idempotency_key="k1")
    assert again.created is False and again.message.pk == first.message.pk
    assert stored_files() == after_first
    assert Attachment.objects.count() == 1


@pytest.mark.django_db
def test_deleting_the_thread_deletes_the_file_after_commit(
    start, buyer, seller, listing, conf, django_capture_on_commit_callbacks
):
    before = stored_files()
    with attachments.stored_upload(upload("a.jpg", jpeg_bytes()), conf) as stored:
        posted = start(buyer, seller, listing=listing, upload=stored)
    assert len(stored_files()) == len(before) + 1
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        posted.thread.delete()
        assert len(stored_files()) == len(before) + 1  # not before the commit
    for callback in callbacks:
        callback()
    assert stored_files() == before


@pytest.mark.django_db
def test_after_commit_delete_keeps_files_live_rows_point_to(
    start, buyer, seller, listing, conf, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    with attachments.stored_upload(upload("a.jpg", jpeg_bytes()), conf) as stored:
        posted = start(buyer, seller, listing=listing, upload=stored)
    before = stored_files()
    with django_capture_on_commit_callbacks(execute=True):
        attachments.delete_files_after_commit([stored.key])
    assert stored_files() == before  # the message still shows it
    with django_capture_on_commit_callbacks(execute=True):
        Attachment.objects.filter(pk=posted.message.attachment.pk).update(expired_at=timezone.now())
        attachments.delete_files_after_commit([stored.key])
    assert len(stored_files()) == len(before) - 1


@pytest.mark.django_db
def test_orphans_are_found_for_maintenance(start, buyer, seller, listing, conf):
    from datetime import timedelta

    with attachments.stored_upload(upload("a.jpg", jpeg_bytes()), conf) as stored:
        start(buyer, seller, listing=listing, upload=stored)
    checked = attachments.check_upload(upload("b.jpg", jpeg_bytes()), conf)
    orphan = attachments.store(upload("b.jpg", jpeg_bytes()), checked)
    assert list(attachments.orphaned_keys(min_age=timedelta(0))) == [orphan]
    assert list(attachments.orphaned_keys()) == []  # too young: may be an upload under way
    attachments.delete_files([orphan])
    assert list(attachments.orphaned_keys(min_age=timedelta(0))) == []


# -- downloading from the local folder ----------------------------------------------------


@pytest.fixture
def posted(start, buyer, seller, listing, conf):
    with attachments.stored_upload(upload("Facture mai.pdf", pdf_bytes()), conf) as stored:
        return start(buyer, seller, listing=listing, upload=stored)


def download_url(posted):
    return reverse("wagtail_messenger:attachment", args=[posted.message.attachment.pk])


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["buyer", "seller", "moderator"])
def test_participants_and_moderators_download(client, posted, request, who):
    client.force_login(request.getfixturevalue(who))
    response = client.get(download_url(posted))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == pdf_bytes()
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "Facture" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox"
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_strangers_and_anonymous_get_404(client, posted, make_user):
    url = download_url(posted)
    assert client.get(url).status_code == 404
    client.force_login(make_user("stranger"))
    assert client.get(url).status_code == 404
    missing = reverse("wagtail_messenger:attachment", args=[posted.message.attachment.pk + 99])
    assert client.get(missing).status_code == 404


@pytest.mark.django_db
def test_guest_with_a_proven_link_downloads(client, start, seller, listing, conf):
    guest = Party.guest("Gina", "gina@example.com")
    with attachments.stored_upload(upload("photo.png", png_bytes()), conf) as stored:
        posted = start(guest, seller, listing=listing, upload=stored)
    url = download_url(posted)
    assert client.get(url).status_code == 404
    session = client.session
    session[GUEST_SESSION_KEY] = "other@example.com"
    session.save()
    assert client.get(url).status_code == 404
    session[GUEST_SESSION_KEY] = "gina@example.com"
    session.save()
    response = client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == png_bytes()


@pytest.mark.django_db
@pytest.mark.parametrize("state", [Message.State.HIDDEN, Message.State.REMOVED])
def test_hidden_message_hides_its_attachment(client, posted, buyer, seller, moderator, state):
    Message.objects.filter(pk=posted.message.pk).update(state=state)
    url = download_url(posted)
    for participant in (buyer, seller):
        client.force_login(participant)
        assert client.get(url).status_code == 404
    client.force_login(moderator)
    assert client.get(url).status_code == 200


@pytest.mark.django_db
def test_held_message_attachment_reaches_only_its_sender(client, posted, buyer, seller):
    Message.objects.filter(pk=posted.message.pk).update(state=Message.State.HELD)
    url = download_url(posted)
    client.force_login(seller)  # the recipient: held messages are not delivered yet
    assert client.get(url).status_code == 404
    client.force_login(buyer)  # the sender is not told the message was held
    assert client.get(url).status_code == 200


@pytest.mark.django_db
def test_expired_attachment_says_so(client, posted, buyer):
    from django.utils import timezone

    Attachment.objects.filter(pk=posted.message.attachment.pk).update(expired_at=timezone.now())
    client.force_login(buyer)
    response = client.get(download_url(posted))
    assert response.status_code == 410
    assert "has expired and was deleted" in response.content.decode()
    assert "Facture mai.pdf" in response.content.decode()


@pytest.mark.django_db
def test_unreadable_file_answers_503_not_500(client, posted, buyer, private_folder):
    path = private_folder / posted.message.attachment.file.name
    path.unlink()
    path.mkdir()  # reading it now fails with an OSError, as a broken disk would
    client.force_login(buyer)
    response = client.get(download_url(posted))
    assert response.status_code == 503
    assert "cannot be downloaded right now" in response.content.decode()
    path.rmdir()
    assert client.get(download_url(posted)).status_code == 404  # missing file


@pytest.mark.django_db
def test_download_refuses_other_methods(client, posted, buyer):
    client.force_login(buyer)
    assert client.post(download_url(posted)).status_code == 405


@pytest.mark.django_db
def test_include_links_to_the_download_view(posted):
    from django.template.loader import render_to_string

    attachment = posted.message.attachment
    html = render_to_string(
        "wagtail_messenger/includes/attachment.html",
        {"message": posted.message, "attachment": attachment},
    )
    assert f'href="{download_url(posted)}"' in html
    assert "Facture mai.pdf" in html
    posted.message.state = Message.State.HIDDEN
    html = render_to_string(
        "wagtail_messenger/includes/attachment.html",
        {"message": posted.message, "attachment": attachment},
    )
    assert "Facture" not in html


# -- system checks -----------------------------------------------------------------------


def s3_options(**extra):
    return {
        "bucket_name": "attachments",
        "region_name": "eu-west-1",
        "access_key": "x",
        "secret_key": "y",
        **extra,
    }


def use_storage(settings, backend, **options):
    settings.STORAGES = {
        **settings.STORAGES,
        "wagtail_messenger": {"BACKEND": backend, "OPTIONS": options},
    }


def check_ids(settings):
    return [(w.id, w.msg) for w in check_attachment_storage(None)]


PRIVATE_S3 = "wagtail_messenger.storage.PrivateS3Storage"
PLAIN_S3 = "storages.backends.s3.S3Storage"


def test_check_safe_configurations_pass(settings):
    assert check_ids(settings) == []  # the private local folder of the test settings
    use_storage(settings, PRIVATE_S3, **s3_options())
    assert check_ids(settings) == []


def test_check_w010_public_acl(settings):
    use_storage(settings, PRIVATE_S3, **s3_options(default_acl="public-read"))
    assert check_ids(settings) == [
        (
            "wagtail_messenger.W010",
            "Attachments are uploaded with the public ACL 'public-read' "
            "(STORAGES['wagtail_messenger']).",
        )
    ]


def test_check_w011_unsigned_urls(settings):
    use_storage(settings, PRIVATE_S3, **s3_options(querystring_auth=False))
    assert check_ids(settings) == [
        (
            "wagtail_messenger.W011",
            "Attachment download URLs are not signed (STORAGES['wagtail_messenger'] has "
            "querystring_auth=False): anybody with the link can fetch the file.",
        )
    ]


def test_check_w012_custom_domain(settings):
    use_storage(settings, PRIVATE_S3, **s3_options(custom_domain="files.example.com"))
    assert check_ids(settings) == [
        (
            "wagtail_messenger.W012",
            "STORAGES['wagtail_messenger'] sets custom_domain 'files.example.com', which "
            "turns signed S3 URLs into plain unsigned links.",
        )
    ]


def test_check_w013_inside_media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    use_storage(settings, "wagtail_messenger.storage.PrivateFileSystemStorage", location=tmp_path)
    expected = [
        (
            "wagtail_messenger.W013",
            "Attachments (STORAGES['wagtail_messenger']) are stored with the public media "
            "files: anybody who guesses a key may download them without the plugin's "
            "access check.",
        )
    ]
    assert check_ids(settings) == expected
    use_storage(settings, "django.core.files.storage.FileSystemStorage", location=tmp_path / "a")
    assert check_ids(settings) == expected


def test_check_w013_same_bucket_as_media(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": PLAIN_S3, "OPTIONS": s3_options()},
    }
    use_storage(settings, PRIVATE_S3, **s3_options())
    assert [i for i, _ in check_ids(settings)] == ["wagtail_messenger.W013"]
    use_storage(settings, PRIVATE_S3, **s3_options(location="private"))
    assert check_ids(settings) == []


def test_check_w014_overwrite(settings):
    use_storage(settings, PRIVATE_S3, **s3_options(file_overwrite=True))
    assert check_ids(settings) == [
        (
            "wagtail_messenger.W014",
            "STORAGES['wagtail_messenger'] allows overwriting stored files (file_overwrite=True).",
        )
    ]


def test_check_plain_s3storage_w015_w016(settings):
    use_storage(
        settings,
        PLAIN_S3,
        **s3_options(default_acl="private", file_overwrite=False),
    )
    assert check_ids(settings) == [
        (
            "wagtail_messenger.W015",
            "Attachments on S3 (STORAGES['wagtail_messenger']) are stored without "
            "'Content-Disposition: attachment', so a browser opening a signed URL directly "
            "may display them inline.",
        ),
        (
            "wagtail_messenger.W016",
            "STORAGES['wagtail_messenger'] may wait longer than "
            "WAGTAILMESSENGER_STORAGE_TIMEOUT (10 s) for S3 (connect_timeout, "
            "read_timeout): people get their answer on time, but with S3 slow or down "
            "each upload that missed it keeps one of the few storage threads that long, "
            "and later uploads fail.",
        ),
    ]
    from botocore.config import Config

    use_storage(
        settings,
        PLAIN_S3,
        **s3_options(
            default_acl="private",
            file_overwrite=False,
            object_parameters={"ContentDisposition": "attachment"},
            client_config=Config(connect_timeout=2, read_timeout=2),
        ),
    )
    assert check_ids(settings) == []


def test_check_w017_storage_cannot_be_created(settings):
    use_storage(settings, "no.such.Storage")
    [(check_id, message)] = check_ids(settings)
    assert check_id == "wagtail_messenger.W017"
    assert message.startswith("The attachment storage STORAGES['wagtail_messenger'] cannot")


# -- through the thread page's reply form -------------------------------------------------


@pytest.mark.django_db
def test_reply_with_a_file_then_download_from_the_thread_page(client, posted, buyer, seller):
    thread_url = reverse("wagtail_messenger:thread", args=[posted.thread.pk])
    client.force_login(seller)
    response = client.post(
        thread_url,
        {"body": "Here is the invoice", "attachment": upload("invoice.pdf", pdf_bytes("2"))},
    )
    assert response.status_code == 302
    reply = Message.objects.latest("pk")
    assert reply.body == "Here is the invoice"
    assert reply.attachment.content_type == "application/pdf"
    client.force_login(buyer)
    page = client.get(thread_url).content.decode()
    link = reverse("wagtail_messenger:attachment", args=[reply.attachment.pk])
    assert f'href="{link}"' in page
    download = client.get(link)
    assert b"".join(download.streaming_content) == pdf_bytes("2")


@pytest.mark.django_db
def test_refused_file_keeps_the_text_and_says_why(client, posted, seller, private_folder):
    before = stored_files()
    client.force_login(seller)
    response = client.post(
        reverse("wagtail_messenger:thread", args=[posted.thread.pk]),
        {"body": "Invoice attached", "attachment": upload("invoice.pdf", b"<html>x</html>")},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert f"The file contains web page or script code. {ACCEPTED}" in page
    assert "Invoice attached</textarea>" in page
    assert Message.objects.count() == 1
    assert stored_files() == before
