"""Disguised uploads through the real reply form: files whose bytes disagree with their
name or claimed type are refused; what is accepted downloads as an attachment of the
type its bytes show, never rendered by the browser."""

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.test_attachments import jpeg_bytes, pdf_bytes, png_bytes, png_header_only
from wagtail_messenger.models import Attachment, MessengerSettings

from .figures import record

pytestmark = pytest.mark.django_db
SCRIPT = b"<script>wmXss(1)</script>"


def jpeg_with_comment(text):
    data = jpeg_bytes()
    segment = b"\xff\xfe" + (len(text) + 2).to_bytes(2, "big") + text
    return data[:2] + segment + data[2:]


def png_with_text(text):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", text.decode())
    return png_bytes(pnginfo=info)


def zip_bomb():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.bin", b"\x00" * (20 * 1024 * 1024))
    return out.getvalue()


#: (what it is, file name, bytes, claimed content type)
DISGUISED = [
    ("HTML named .png", "photo.png", b"<html><body>" + SCRIPT, "image/png"),
    (
        "SVG named .png",
        "logo.png",
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="x()"/>',
        "image/png",
    ),
    ("SVG as itself", "logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"/>', "image/svg+xml"),
    ("JavaScript named .jpg", "photo.jpg", b"wmXss(1);//\xff\xd8", "image/jpeg"),
    ("HTML named .pdf", "invoice.pdf", b"<!doctype html>" + SCRIPT, "application/pdf"),
    ("PDF header after HTML", "invoice.pdf", b"<html>" + pdf_bytes(), "application/pdf"),
    ("JPEG polyglot (script in a comment)", "photo.jpg", jpeg_with_comment(SCRIPT), "image/jpeg"),
    (
        "PNG polyglot (HTML in a text chunk)",
        "photo.png",
        png_with_text(b"<html>" + SCRIPT),
        "image/png",
    ),
    ("GIF header then HTML (GIFAR)", "anim.gif", b"GIF89a<html>" + SCRIPT, "image/gif"),
    ("double extension .html.png with HTML", "page.html.png", b"<html>" + SCRIPT, "image/png"),
    ("double extension .png.html", "photo.png.html", png_bytes(), "text/html"),
    ("executable behind RTL override", "invoice\u202egnp.exe", b"MZ\x90\x00", "image/png"),
    ("text file with markup", "notes.txt", b"hello " + SCRIPT, "text/plain"),
    ("zip bomb", "photos.zip", zip_bomb(), "application/zip"),
    ("decompression bomb PNG", "huge.png", png_header_only(60000, 60000), "image/png"),
    ("empty PNG", "empty.png", b"", "image/png"),
]
#: Real files with hostile names or claims: accepted, and served safely.
GENUINE = [
    ("PNG claimed text/html", "photo.png", png_bytes(), "text/html", "image/png"),
    (
        "PNG named like markup",
        '<img src=x onerror="wmXss(1)">.png',
        png_bytes(),
        "image/png",
        "image/png",
    ),
    ("JPEG", "photo.jpg", jpeg_bytes(), "image/jpeg", "image/jpeg"),
    ("PDF", "invoice.pdf", pdf_bytes(), "application/pdf", "application/pdf"),
    ("text", "notes.txt", "Grüße".encode(), "text/html", "text/plain"),
]


@pytest.fixture
def text_files_allowed(world):
    settings = MessengerSettings.for_site(world.site)
    settings.allowed_extensions = "jpg,jpeg,png,gif,webp,pdf,txt"
    # Twenty uploads from one new account in a few seconds: the per-account limit
    # (tests/test_ratelimit.py) would answer 429 before the file checks are reached.
    settings.new_account_messages_per_minute = settings.account_messages_per_minute = 0
    settings.save()


def reply_with(world, client, name, content, content_type):
    thread = world.threads["A"]
    upload = SimpleUploadedFile(name, content, content_type=content_type)
    return client.post(
        f"/messages/{thread.pk}/",
        {"body": "See the file", "key": "", "attachment": upload},
        HTTP_ACCEPT="application/json",
    )


def test_disguised_files_are_refused(world, text_files_allowed):
    client = world.clients["buyer"]
    accepted = []
    for what, name, content, claimed in DISGUISED:
        before = Attachment.objects.count()
        response = reply_with(world, client, name, content, claimed)
        if response.status_code != 400 or Attachment.objects.count() != before:
            accepted.append(f"{what}: {response.status_code}")
        else:
            assert response.json()["errors"], what  # says why
    record("uploads", disguised_files=len(DISGUISED), accepted=len(accepted))
    assert not accepted, "\n".join(accepted)


def test_accepted_files_download_as_attachments_of_their_real_type(world, text_files_allowed):
    client = world.clients["buyer"]
    unsafe = []
    for what, name, content, claimed, real_type in GENUINE:
        response = reply_with(world, client, name, content, claimed)
        assert response.status_code == 200, (what, response.content[:300])
        attachment = Attachment.objects.order_by("-pk").first()
        download = world.clients["seller"].get(f"/messages/attachments/{attachment.pk}/")
        body = b"".join(download.streaming_content)
        headers = {
            "Content-Disposition": download.get("Content-Disposition", ""),
            "X-Content-Type-Options": download.get("X-Content-Type-Options", ""),
            "Content-Type": download.get("Content-Type", ""),
            "Content-Security-Policy": download.get("Content-Security-Policy", ""),
        }
        problems = []
        if not headers["Content-Disposition"].startswith("attachment"):
            problems.append("not an attachment")
        if headers["X-Content-Type-Options"] != "nosniff":
            problems.append("sniffable")
        if headers["Content-Type"].split(";")[0] != real_type:
            problems.append(f"served as {headers['Content-Type']}")
        if "sandbox" not in headers["Content-Security-Policy"]:
            problems.append("no CSP sandbox")
        if b"<" in headers["Content-Disposition"].encode():
            problems.append("markup in the file name header")
        if body != content:
            problems.append("bytes changed")
        if problems:
            unsafe.append(f"{what}: {', '.join(problems)} {headers}")
    record("uploads", genuine_files=len(GENUINE), served_unsafely=len(unsafe))
    assert not unsafe, "\n".join(unsafe)
