"""Demo e-mail data: the brand setting, an editor's content block (en + nl), the
Marketing team's permissions on the "E-mail" menu, and one welcome message per
language in the outbox (the demo worker prints them on the console; the admin shows
them rendered). Run by `seed_demo`; a second run changes nothing."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from wagtail.models import Locale

from emails import services
from emails.models import EmailBrandSettings, EmailContentBlock, Message
from shop.models import Customer

DEMO_CUSTOMER_EMAIL = "customer@example.com"
MARKETING_PERMISSIONS = [
    "view_message",
    "view_suppression",
    "add_suppression",
    "delete_suppression",
    "view_emailcontentblock",
    "add_emailcontentblock",
    "change_emailcontentblock",
    "delete_emailcontentblock",
]
# One translation key: the en and nl blocks are translations of each other.
THANKS_KEY = uuid.UUID("6f1d8c2e-2b7a-4c55-9a57-0c4e8a1d3b10")
BLOCKS = {
    "en": ("Thanks for your order", "Thank you for shopping with us."),
    "nl": ("Bedankt voor je bestelling", "Bedankt dat je bij ons winkelt."),
}


@transaction.atomic
def seed_demo() -> dict[str, int]:
    created = {"content blocks": 0, "messages": 0}
    brand = EmailBrandSettings.load()
    if not brand.footer_address:
        brand.footer_address = "Returnwise B.V.\nDamrak 1\n1012 LG Amsterdam"
        brand.save()
    for code, (title, text) in BLOCKS.items():
        locale = Locale.objects.filter(language_code=code).first()
        if locale is None:
            continue
        _, made = EmailContentBlock.objects.get_or_create(
            slug="thanks",
            locale=locale,
            defaults={
                "title": title,
                "translation_key": THANKS_KEY,
                "body": [("paragraph", f"<p>{text}</p>")],
            },
        )
        created["content blocks"] += int(made)
    marketing = Group.objects.filter(name="Marketing").first()
    if marketing is not None:
        marketing.permissions.add(
            *Permission.objects.filter(
                content_type__app_label="emails", codename__in=MARKETING_PERMISSIONS
            )
        )
    customer = Customer.objects.filter(email=DEMO_CUSTOMER_EMAIL).first()
    for language in ("en", "nl"):
        key = f"demo:welcome:{language}"
        if Message.objects.filter(key=key).exists():
            continue
        services.enqueue(
            key=key,
            to_email=DEMO_CUSTOMER_EMAIL,
            customer=customer,
            template="test_message",
            context={"first_name": "Anna"},
            language=language,
            sender_label="demo",
        )
        created["messages"] += 1
    return created
