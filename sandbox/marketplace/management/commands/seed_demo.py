"""Fill the demo marketplace: users, listings, a contact form and a few threads.

Safe to run again: it only creates what is missing.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand
from django.db import transaction
from wagtail.models import Page, Site

from sandbox.marketplace.models import (
    ContactPage,
    FormField,
    HomePage,
    ListingIndexPage,
    ListingPage,
)
from wagtail_messenger.services import conversations
from wagtail_messenger.services.parties import Party

USERS = [
    # username, password, email, first name, role
    ("admin", "admin", "admin@example.com", "Ada", "superuser"),
    ("moderator", "moderator", "moderator@example.com", "Mona", "moderator"),
    ("seller", "seller", "seller@example.com", "Sam", "seller"),
    ("buyer", "buyer", "buyer@example.com", "Bea", "buyer"),
]

LISTINGS = [
    ("Vintage road bike", "420.00", "Lyon", "seller"),
    ("Oak dining table", "250.00", "Ghent", "seller"),
    ("Espresso machine", "90.00", "Turin", None),  # no owner: goes to the fallback team
]


class Command(BaseCommand):
    help = "Create the demo marketplace's users, pages and sample threads."

    def handle(self, *args, **options):
        with transaction.atomic():
            users = self.create_users()
            home, listings = self.create_pages(users)
            self.configure_messenger(users)
            self.create_threads(users, home, listings)
        self.stdout.write(self.style.SUCCESS("Demo data ready. Log in with:"))
        for username, password, _email, _first, role in USERS:
            self.stdout.write(f"  {role:10} {username} / {password}")

    def create_users(self):
        User = get_user_model()
        moderators, _ = Group.objects.get_or_create(name="Moderators")
        moderators.permissions.add(
            Permission.objects.get(content_type__app_label="wagtailadmin", codename="access_admin"),
            Permission.objects.get(
                content_type__app_label="wagtail_messenger", codename="moderate_thread"
            ),
        )
        users = {}
        for username, password, email, first_name, role in USERS:
            user = User.objects.filter(username=username).first()
            if user is None:
                user = User(username=username, email=email, first_name=first_name)
                user.set_password(password)
                if role == "superuser":
                    user.is_staff = user.is_superuser = True
                user.save()
            if role == "moderator":
                user.groups.add(moderators)
            users[username] = user
        return users

    def create_pages(self, users):
        site = Site.objects.filter(is_default_site=True).first()
        home = HomePage.objects.first()
        if home is None:
            root = Page.get_first_root_node()
            home = root.add_child(
                instance=HomePage(
                    title="Demo Marketplace",
                    slug="market",
                    intro="<p>Second-hand treasures from people near you.</p>",
                )
            )
            old_root = site.root_page if site else None
            if site is None:
                site = Site(hostname="127.0.0.1", port=8000, is_default_site=True)
            site.root_page = home
            site.site_name = "Demo Marketplace"
            site.save()
            if old_root is not None and old_root.specific_class is Page:
                old_root.delete()
        index = ListingIndexPage.objects.first() or home.add_child(
            instance=ListingIndexPage(title="Listings", slug="listings")
        )
        listings = []
        for title, price, location, owner in LISTINGS:
            page = ListingPage.objects.filter(title=title).first()
            if page is None:
                page = index.add_child(
                    instance=ListingPage(
                        title=title,
                        price=price,
                        location=location,
                        description=f"<p>{title} in good condition. Pick-up in {location}.</p>",
                        owner=users[owner] if owner else None,
                    )
                )
                if owner is None:
                    ListingPage.objects.filter(pk=page.pk).update(owner=None)
            listings.append(page)
        if not ContactPage.objects.exists():
            contact = home.add_child(
                instance=ContactPage(
                    title="Contact us",
                    slug="contact",
                    intro="<p>Questions about the marketplace? Write to us.</p>",
                    thank_you_text="<p>Thanks, we will get back to you soon.</p>",
                    to_address="seller@example.com",
                    from_address="noreply@example.com",
                    subject="Contact form",
                )
            )
            for order, (label, field_type) in enumerate(
                [("Name", "singleline"), ("Email", "email"), ("Message", "multiline")]
            ):
                FormField.objects.create(
                    page=contact,
                    sort_order=order,
                    label=label,
                    field_type=field_type,
                    required=True,
                )
        bike = listings[0]
        if not ContactPage.objects.child_of(bike).exists():
            # A form under a listing with no "to address": with "Contact forms deliver
            # messages" on, it reaches the listing's seller, about that listing.
            ask = bike.add_child(
                instance=ContactPage(
                    title="Ask the seller",
                    slug="ask",
                    intro="<p>A question about this bike? Ask the seller.</p>",
                    thank_you_text="<p>Thanks, the seller will answer you.</p>",
                    subject="Question about the bike",
                )
            )
            for order, (label, field_type) in enumerate(
                [("Name", "singleline"), ("Email", "email"), ("Message", "multiline")]
            ):
                FormField.objects.create(
                    page=ask, sort_order=order, label=label, field_type=field_type, required=True
                )
        return home, listings

    def configure_messenger(self, users):
        """What a site owner sets once: the address the demo is served on (emailed links
        are built from the Site record), a team for listings nobody owns, and contact
        forms that deliver messages."""
        from wagtail_messenger.models import MessengerSettings

        site = Site.objects.filter(is_default_site=True).first()
        if (site.hostname, site.port) == ("localhost", 80):  # Wagtail's initial record
            site.hostname, site.port = "127.0.0.1", 8000
            site.save()
        team, created = Group.objects.get_or_create(name="Marketplace team")
        if created:
            team.user_set.add(users["admin"], users["moderator"])
        conf = MessengerSettings.for_site(site)
        if conf.fallback_group_id is None and conf.fallback_user_id is None:
            conf.fallback_group = team
            conf.contact_forms_deliver_messages = True
            conf.save()

    def create_threads(self, users, home, listings):
        from wagtail_messenger.models import Thread

        if Thread.objects.exists():
            return
        site = Site.objects.filter(is_default_site=True).first()
        buyer, seller = Party.for_user(users["buyer"]), Party.for_user(users["seller"])
        bike = listings[0]
        posted = conversations.start_thread(
            sender=buyer,
            recipient=seller,
            listing=bike,
            site=site,
            body="Hello! Is the bike still available? Could I see it on Saturday?",
        )
        from wagtail_messenger.actors import Actor

        conversations.post_message(
            actor=Actor.for_user(users["seller"]),
            thread=posted.thread,
            body="Hi Bea, yes it is. Saturday at 10 works for me.",
        )
        conversations.start_thread(
            sender=Party.guest("Gustave", "gustave@example.com"),
            recipient=seller,
            listing=listings[1],
            site=site,
            body="Would you take 200 for the table?",
        )
