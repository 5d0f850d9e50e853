"""A visitor writes through the sandbox's contact form to an address that has no account;
the seller opens the invitation, signs up on the sandbox's page and reads the message."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from sandbox.marketplace.models import ContactPage, FormField
from wagtail_messenger.models import MessengerSettings, Participant

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def contact_page(site):
    conf = MessengerSettings.for_site(site)
    conf.contact_forms_deliver_messages = True
    conf.email_previews = False
    conf.save()
    page = site.root_page.add_child(
        instance=ContactPage(
            title="Contact us",
            slug="contact",
            thank_you_text="<p>Thanks, we will get back to you.</p>",
            to_address="newseller@example.com",
            from_address="forms@example.com",
            subject="Question about the shop",
        )
    )
    for order, (label, field_type) in enumerate(
        [("Name", "singleline"), ("Email", "email"), ("Message", "multiline")]
    ):
        FormField.objects.create(
            page=page, sort_order=order, label=label, field_type=field_type, required=True
        )
    return page


def test_unregistered_seller_claims_the_message_by_signing_up(
    page, live_server, contact_page, tmp_path
):
    page.goto(f"{live_server.url}{contact_page.url}")
    page.get_by_label("Name").fill("Gustave")
    page.get_by_label("Email").fill("gustave@example.com")
    page.get_by_label("Message").fill("Do you ship the lamp to Ghent?")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_text("Thanks, we will get back to you.")).to_be_visible()

    [invitation] = [m for m in mail.outbox if m.to == ["newseller@example.com"]]
    assert "Do you ship" not in invitation.body, "no message text without previews"
    link = re.search(r"https?://[^/\s]+(/messages/claim/\S+/)", invitation.body).group(1)

    # The seller, in a fresh browser session, opens the link: the token leaves the URL.
    page.context.clear_cookies()
    page.goto(f"{live_server.url}{link}")
    expect(page).to_have_url(f"{live_server.url}/messages/claim/")
    expect(page.get_by_role("heading", name="Messages are waiting for you")).to_be_visible()
    page.get_by_role("link", name="Create an account").click()

    expect(page.get_by_label("Email")).to_have_value("newseller@example.com")
    page.locator("#id_username").fill("newseller")
    page.locator("#id_password1").fill("a-long-passphrase")
    page.locator("#id_password2").fill("a-long-passphrase")
    page.get_by_role("button", name="Create account").click()

    page.get_by_role("button", name="Add them to my account").click()
    # (The header's unread widget may show a preview too: look in the page's main part.)
    main = page.get_by_role("main")
    expect(main.get_by_text("Do you ship the lamp to Ghent?")).to_be_visible()
    expect(main.get_by_text("are now in your inbox")).to_be_visible()
    page.screenshot(path=tmp_path / "claimed-thread.png", full_page=True)
    row = Participant.objects.get(is_initiator=False)
    assert (row.kind, row.user.username) == ("user", "newseller")
