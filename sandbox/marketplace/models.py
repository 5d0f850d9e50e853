"""A small marketplace, built the way a site owner would: nothing here knows about the
messenger except the one mixin on the contact form page."""

from decimal import Decimal

from django.db import models
from modelcluster.fields import ParentalKey
from wagtail.admin.panels import FieldPanel, FieldRowPanel, InlinePanel, MultiFieldPanel
from wagtail.contrib.forms.models import AbstractEmailForm, AbstractFormField
from wagtail.fields import RichTextField
from wagtail.models import Page

from wagtail_messenger.contact_forms import MessengerFormMixin


class HomePage(Page):
    intro = RichTextField(blank=True)

    content_panels = [*Page.content_panels, FieldPanel("intro")]
    subpage_types = ["marketplace.ListingIndexPage", "marketplace.ContactPage"]

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["listings"] = ListingPage.objects.live().order_by("-first_published_at")[:12]
        return context


class ListingIndexPage(Page):
    subpage_types = ["marketplace.ListingPage"]

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["listings"] = ListingPage.objects.child_of(self).live()
        return context


class ListingPage(Page):
    """A classified ad. The page owner is the seller."""

    class Status(models.TextChoices):
        AVAILABLE = "available", "Available"
        RESERVED = "reserved", "Reserved"
        SOLD = "sold", "Sold"

    price = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    location = models.CharField(max_length=120, blank=True)
    description = RichTextField(blank=True)
    photo = models.ForeignKey(
        "wagtailimages.Image", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.AVAILABLE)

    content_panels = [
        *Page.content_panels,
        FieldRowPanel([FieldPanel("price"), FieldPanel("location"), FieldPanel("status")]),
        FieldPanel("photo"),
        FieldPanel("description"),
    ]
    parent_page_types = ["marketplace.ListingIndexPage"]
    subpage_types = ["marketplace.ContactPage"]

    def messenger_summary(self):
        """The listing card's line under the title (wagtail-messenger's convention):
        the price and the town."""
        price = f"€{Decimal(self.price):,.0f}" if self.price is not None else ""
        return " · ".join(part for part in (price, self.location) if part)

    def messenger_listing_state(self):
        """The messenger's convention: a sold listing takes no new conversation, and its
        conversations are told when the status changes on publish."""
        return self.status


class FormField(AbstractFormField):
    page = ParentalKey("ContactPage", on_delete=models.CASCADE, related_name="form_fields")


class ContactPage(MessengerFormMixin, AbstractEmailForm):
    intro = RichTextField(blank=True)
    thank_you_text = RichTextField(blank=True)

    content_panels = [
        *AbstractEmailForm.content_panels,
        FieldPanel("intro"),
        InlinePanel("form_fields", label="Form fields"),
        FieldPanel("thank_you_text"),
        MultiFieldPanel(
            [
                FieldRowPanel([FieldPanel("from_address"), FieldPanel("to_address")]),
                FieldPanel("subject"),
            ],
            "Email",
        ),
    ]
