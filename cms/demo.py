"""Demo pages: the home page (en, with its nl translation) as the default site's root,
replacing Wagtail's "Welcome to your new Wagtail site!" page, and a "Returns" index
with one return policy per demo category (plus a default and one for hygiene items),
in English and Dutch, published so `policy_for` finds them. Run by `seed_demo`; a
second run changes nothing."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from wagtail.models import (
    GroupPagePermission,
    Locale,
    Page,
    Site,
    Workflow,
    WorkflowPage,
)

from cms.models import HomePage, ReturnPolicyIndexPage, ReturnPolicyPage
from shop import services as shop_services
from shop.models import Product

HOME = {
    "en": {
        "title": "Home",
        "hero_title": "Returns, made simple",
        "intro": (
            "<p>Read our return policy, review what you bought and start a return "
            "in a few clicks.</p>"
        ),
    },
    "nl": {
        "title": "Home",
        "hero_title": "Retourneren, eenvoudig geregeld",
        "intro": (
            "<p>Lees ons retourbeleid, beoordeel wat je hebt gekocht en meld een "
            "retour aan in een paar klikken.</p>"
        ),
    },
}

INDEX = {
    "slug": "returns",
    "en": {
        "title": "Returns",
        "intro": "<p>What you can return, how long you have and what it costs.</p>",
    },
    "nl": {
        "title": "Retourneren",
        "intro": "<p>Wat je kunt retourneren, hoe lang je de tijd hebt en wat het kost.</p>",
    },
}

STANDARD_RULES = {
    "window_days": 30,
    "offers_refund": True,
    "offers_exchange": True,
    "return_method": "by_mail",
    "fault_shipping_payer": "shop",
    "fault_shipping_cost": Decimal("4.95"),
    "remorse_shipping_payer": "customer",
    "remorse_shipping_cost": Decimal("4.95"),
}


def _faq(question: str, answer: str) -> dict:
    return {
        "type": "faq_item",
        "value": {"question": question, "answer": f"<p>{answer}</p>"},
    }


def _body(en_or_nl: str, paragraph: str, faqs: list[tuple[str, str]]) -> list[dict]:
    heading = "How to return" if en_or_nl == "en" else "Zo retourneer je"
    return [
        {"type": "heading", "value": {"text": heading, "level": "h2"}},
        {"type": "paragraph", "value": f"<p>{paragraph}</p>"},
        *(_faq(q, a) for q, a in faqs),
    ]


# slug -> categories, product SKUs, rules, and the texts per language.
POLICIES = {
    "clothing": {
        "categories": ["Clothing"],
        "rules": {
            **STANDARD_RULES,
            "remorse_shipping_payer": "shop",
            "offers_store_credit": True,
            "store_credit_bonus_percent": Decimal("10"),
            "returnless_max_item_value": Decimal("10.00"),
        },
        "en": {
            "title": "Clothing",
            "summary": "Return clothing within 30 days of delivery, free of charge. "
            "Choose store credit and get 10% extra.",
            "condition_required": "Unworn and unwashed, with the labels still on",
            "body": _body(
                "en",
                "Print the label from the returns portal, pack the items with their "
                "labels on and drop the parcel at any post office.",
                [
                    (
                        "Can I exchange for another size?",
                        "Yes: choose exchange and the size you need; we ship it as soon as your return is scanned.",
                    )
                ],
            ),
        },
        "nl": {
            "title": "Kleding",
            "summary": "Retourneer kleding binnen 30 dagen na levering, gratis. "
            "Kies tegoed en krijg 10% extra.",
            "condition_required": "Ongedragen en ongewassen, met de labels er nog aan",
            "body": _body(
                "nl",
                "Print het label in het retourportaal, verpak de artikelen met de "
                "labels eraan en lever het pakket af bij een postpunt.",
                [
                    (
                        "Kan ik ruilen voor een andere maat?",
                        "Ja: kies ruilen en de maat die je nodig hebt; we versturen hem zodra je retour is gescand.",
                    )
                ],
            ),
        },
    },
    "shoes": {
        "categories": ["Shoes"],
        "rules": {**STANDARD_RULES},
        "en": {
            "title": "Shoes",
            "summary": "Return shoes within 30 days of delivery. Return shipping "
            "costs EUR 4.95, free if the pair is faulty.",
            "condition_required": "Worn indoors only, in the original box",
            "body": _body(
                "en",
                "Try shoes on indoors, on a clean floor. Put them back in their box "
                "and pack the box in a shipping carton.",
                [
                    (
                        "The sole came loose after a week",
                        "That is a defect: start a return, choose “faulty” and we pay the shipping.",
                    )
                ],
            ),
        },
        "nl": {
            "title": "Schoenen",
            "summary": "Retourneer schoenen binnen 30 dagen na levering. Retourzenden "
            "kost EUR 4,95, gratis als het paar defect is.",
            "condition_required": "Alleen binnen gedragen, in de originele doos",
            "body": _body(
                "nl",
                "Pas schoenen binnen, op een schone vloer. Doe ze terug in de doos "
                "en verpak de doos in een verzenddoos.",
                [
                    (
                        "De zool liet na een week los",
                        "Dat is een defect: meld een retour aan, kies „defect” en wij betalen de verzending.",
                    )
                ],
            ),
        },
    },
    "electronics": {
        "categories": ["Electronics"],
        "rules": {
            **STANDARD_RULES,
            "window_days": 14,
            "offers_repair": True,
            "remorse_shipping_cost": Decimal("6.95"),
            "fault_shipping_cost": Decimal("6.95"),
            "restocking_fee_percent": Decimal("10"),
        },
        "en": {
            "title": "Electronics",
            "summary": "Return electronics within 14 days of delivery. A change of "
            "mind costs a 10% restocking fee; faulty devices are repaired or "
            "replaced free.",
            "condition_required": "Complete, with all accessories, in the original packaging",
            "body": _body(
                "en",
                "Reset the device to its factory settings and remove your accounts "
                "before you send it back.",
                [
                    (
                        "My device stopped working after a month",
                        "It is under warranty: start a return and choose repair.",
                    )
                ],
            ),
        },
        "nl": {
            "title": "Elektronica",
            "summary": "Retourneer elektronica binnen 14 dagen na levering. Bij "
            "bedenktijd rekenen we 10% terugnamekosten; defecte apparaten "
            "repareren of vervangen we gratis.",
            "condition_required": "Compleet, met alle accessoires, in de originele verpakking",
            "body": _body(
                "nl",
                "Zet het apparaat terug naar de fabrieksinstellingen en verwijder je "
                "accounts voordat je het terugstuurt.",
                [
                    (
                        "Mijn apparaat werkt na een maand niet meer",
                        "Er zit garantie op: meld een retour aan en kies reparatie.",
                    )
                ],
            ),
        },
    },
    "beauty": {
        "categories": ["Beauty"],
        "rules": {
            **STANDARD_RULES,
            "window_days": 14,
            "offers_exchange": False,
        },
        "en": {
            "title": "Beauty",
            "summary": "Return beauty products within 14 days of delivery if they "
            "are unopened and still sealed.",
            "condition_required": "Unopened, with the seal intact",
            "body": _body(
                "en",
                "For hygiene reasons we can only take back products whose seal is "
                "unbroken.",
                [
                    (
                        "The product gave me a reaction",
                        "Contact us: a reaction is not a change of mind, and we will help.",
                    )
                ],
            ),
        },
        "nl": {
            "title": "Verzorging",
            "summary": "Retourneer verzorgingsproducten binnen 14 dagen na levering "
            "als ze ongeopend en verzegeld zijn.",
            "condition_required": "Ongeopend, met het zegel intact",
            "body": _body(
                "nl",
                "Om hygiënische redenen nemen we alleen producten terug waarvan het "
                "zegel niet verbroken is.",
                [
                    (
                        "Ik kreeg een reactie op het product",
                        "Neem contact op: een reactie is geen bedenktijd, we helpen je graag.",
                    )
                ],
            ),
        },
    },
    "hygiene-items": {
        "products": ["BEA-006", "BEA-008", "SPO-010"],
        "rules": {
            **STANDARD_RULES,
            "window_days": 0,
            "offers_refund": False,
            "offers_exchange": False,
            "not_returnable": True,
        },
        "en": {
            "title": "Hygiene items",
            "summary": "Mascara, lip balm and sports bras cannot be returned once "
            "delivered. Faulty items are always replaced.",
            "not_returnable_reason": "For hygiene reasons, once delivered",
            "body": _body(
                "en",
                "These items touch the skin directly. A faulty item is replaced: "
                "contact us with a photo.",
                [],
            ),
        },
        "nl": {
            "title": "Hygiëneartikelen",
            "summary": "Mascara, lippenbalsem en sportbeha's kun je na levering niet "
            "retourneren. Defecte artikelen vervangen we altijd.",
            "not_returnable_reason": "Om hygiënische redenen, na levering",
            "body": _body(
                "nl",
                "Deze artikelen komen direct op de huid. Een defect artikel vervangen "
                "we: stuur ons een foto.",
                [],
            ),
        },
    },
    "standard": {
        "default": True,
        "rules": {**STANDARD_RULES, "offers_store_credit": True},
        "en": {
            "title": "Standard returns",
            "summary": "Return anything else within 30 days of delivery. Return "
            "shipping costs EUR 4.95, free when we made a mistake.",
            "condition_required": "Unused, in the original packaging",
            "body": _body(
                "en",
                "Start your return in the returns portal or scan the QR code on the "
                "insert in your parcel.",
                [
                    (
                        "When do I get my money back?",
                        "Within 5 working days after we receive your return.",
                    )
                ],
            ),
        },
        "nl": {
            "title": "Standaard retourbeleid",
            "summary": "Retourneer al het andere binnen 30 dagen na levering. "
            "Retourzenden kost EUR 4,95, gratis als wij een fout maakten.",
            "condition_required": "Ongebruikt, in de originele verpakking",
            "body": _body(
                "nl",
                "Meld je retour aan in het retourportaal of scan de QR-code op de "
                "bijsluiter in je pakket.",
                [
                    (
                        "Wanneer krijg ik mijn geld terug?",
                        "Binnen 5 werkdagen nadat we je retour hebben ontvangen.",
                    )
                ],
            ),
        },
    },
}


def _publish(page: Page, values: dict) -> None:
    for name, value in values.items():
        setattr(page, name, value)
    page.save_revision().publish()


def _is_placeholder(page: Page) -> bool:
    """Wagtail's "Welcome to your new Wagtail site!": a plain Page (no page type)."""
    return page.content_type_id == ContentType.objects.get_for_model(Page).pk


def _ensure_home(english: Locale, dutch: Locale) -> tuple[HomePage, int]:
    created = 0
    home = HomePage.objects.filter(locale=english).first()
    if home is None:
        root = Page.get_first_root_node()
        # Wagtail's placeholder has the slug "home" too: move it aside first.
        placeholders = [p.pk for p in root.get_children() if _is_placeholder(p)]
        Page.objects.filter(pk__in=placeholders, slug="home").update(
            slug="wagtail-welcome"
        )
        home = root.add_child(
            instance=HomePage(slug="home", locale=english, live=False, **HOME["en"])
        )
        _publish(home, HOME["en"])
        created += 1

    site = Site.objects.filter(is_default_site=True).first()
    if site is None:
        Site.objects.create(hostname="localhost", root_page=home, is_default_site=True)
    elif site.root_page_id != home.pk and _is_placeholder(site.root_page):
        # Point the site at the home page, then delete the placeholder unless someone
        # has added pages under it. A root an editor chose is left alone.
        placeholder = site.root_page
        site.root_page = home
        site.save(update_fields=["root_page"])
        if not placeholder.get_children().exists():
            placeholder.delete()

    if not home.has_translation(dutch):
        translation = home.copy_for_translation(dutch)
        _publish(translation, HOME["nl"])
        created += 1
    return home, created


def _ensure_index(home: HomePage, dutch: Locale) -> tuple[ReturnPolicyIndexPage, int]:
    created = 0
    index = ReturnPolicyIndexPage.objects.child_of(home).first()
    if index is None:
        index = home.add_child(
            instance=ReturnPolicyIndexPage(
                slug=INDEX["slug"], live=False, **INDEX["en"]
            )
        )
        _publish(index, {})
        created += 1
    if not index.has_translation(dutch):
        # The parent's translation exists (the home page's), so this lands under it.
        _publish(index.copy_for_translation(dutch), INDEX["nl"])
        created += 1
    return index, created


def _ensure_policies(index: ReturnPolicyIndexPage, dutch: Locale) -> int:
    created = 0
    existing = {page.slug: page for page in ReturnPolicyPage.objects.child_of(index)}
    for slug, spec in POLICIES.items():
        page = existing.get(slug)
        if page is None:
            page = ReturnPolicyPage(
                slug=slug,
                live=False,
                is_default=spec.get("default", False),
                **spec["rules"],
                **spec["en"],
            )
            index.add_child(instance=page)
            page.applies_to_categories.set(
                [
                    shop_services.upsert_category(name=n)
                    for n in spec.get("categories", [])
                ]
            )
            page.applies_to_products.set(
                Product.objects.filter(sku__in=spec.get("products", []))
            )
            _publish(page, {})
            created += 1
        if not page.has_translation(dutch):
            translation = page.copy_for_translation(dutch)
            translation.applies_to_categories.set(page.applies_to_categories.all())
            translation.applies_to_products.set(page.applies_to_products.all())
            _publish(translation, spec["nl"])
            created += 1
    return created


def _ensure_editing_rights(index: ReturnPolicyIndexPage) -> None:
    """Editors may add and change policies under the index (publishing goes through
    the moderation workflow); Wagtail's default workflow covers the index."""
    editors = Group.objects.filter(name="Editors").first()
    if editors is not None:
        for codename in ("add_page", "change_page"):
            GroupPagePermission.objects.get_or_create(
                group=editors,
                page=index,
                permission=Permission.objects.get(
                    content_type__app_label="wagtailcore", codename=codename
                ),
            )
    workflow = Workflow.objects.filter(name="Moderators approval", active=True).first()
    if workflow is not None:
        WorkflowPage.objects.get_or_create(page=index, defaults={"workflow": workflow})


@transaction.atomic
def seed_demo() -> dict[str, int]:
    """Create what is missing of the pages and locales."""
    locales = {code: Locale.objects.get_or_create(language_code=code) for code in HOME}
    english, dutch = locales["en"][0], locales["nl"][0]
    home, pages = _ensure_home(english, dutch)
    index, index_pages = _ensure_index(home, dutch)
    policies = _ensure_policies(index, dutch)
    _ensure_editing_rights(index)
    return {
        "locales": sum(was_created for _, was_created in locales.values()),
        "pages": pages + index_pages,
        "policy pages": policies,
    }
