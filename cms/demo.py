"""Demo pages: the home page (en, with its nl translation) as the default site's root,
replacing Wagtail's "Welcome to your new Wagtail site!" page. Run by `seed_demo`."""

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from wagtail.models import Locale, Page, Site

from cms.models import HomePage

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


def _publish(page: Page, values: dict[str, str]) -> None:
    for name, value in values.items():
        setattr(page, name, value)
    page.save_revision().publish()


def _is_placeholder(page: Page) -> bool:
    """Wagtail's "Welcome to your new Wagtail site!": a plain Page (no page type)."""
    return page.content_type_id == ContentType.objects.get_for_model(Page).pk


@transaction.atomic
def seed_demo() -> dict[str, int]:
    """Create what is missing of the home page, its translation and the locales."""
    locales = {code: Locale.objects.get_or_create(language_code=code) for code in HOME}
    created = {
        "locales": sum(was_created for _, was_created in locales.values()),
        "pages": 0,
    }
    english, dutch = locales["en"][0], locales["nl"][0]

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
        created["pages"] += 1

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
        created["pages"] += 1
    return created
