"""The "Your data" section of the preferences page in a real browser: a seller asks for
their data, the page then offers the download. Takes the screenshot for docs/privacy.md."""

import re
from pathlib import Path

import pytest
from django.core import mail
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


def test_a_seller_downloads_their_data_from_the_preferences_page(
    page, live_server, start, seller, buyer, settings, tmp_path
):
    settings.STORAGES = {
        **settings.STORAGES,
        "wagtail_messenger": {
            "BACKEND": "wagtail_messenger.storage.PrivateFileSystemStorage",
            "OPTIONS": {"location": tmp_path},
        },
    }
    start(buyer, seller, body="Is the bike still for sale?")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill("seller")
    page.get_by_label("Password").fill("pw")
    page.get_by_role("button", name=re.compile("log in", re.I)).click()
    page.goto(live_server.url + "/messages/preferences/")
    page.get_by_role("button", name="Download my data").click()
    expect(page.get_by_text("Your data is being prepared.")).to_be_visible()
    link = page.get_by_role("link", name=re.compile("Your data of"))
    expect(link).to_be_visible()
    assert any("/messages/data/export/" in m.body for m in mail.outbox if m.to == [seller.email])
    page.screenshot(path=DOCS_IMAGES / "privacy-your-data.png", full_page=True)
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename.endswith(".zip")
