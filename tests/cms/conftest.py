"""Pages for the cms tests: the site's home page, the Returns index under it, and a
helper that creates and publishes a return policy (which writes its snapshot)."""

from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import translation
from wagtail.models import Locale, Page, Site

from cms.models import HomePage, ReturnPolicyIndexPage, ReturnPolicyPage


@pytest.fixture(autouse=True)
def keep_the_language():
    """A request to /nl/… leaves Dutch active in the thread (LocaleMiddleware does
    not reset it), and later tests would reverse() to /nl/ URLs: restore it."""
    language = translation.get_language()
    yield
    translation.activate(language)


@pytest.fixture(autouse=True)
def empty_cache():
    """The page cache lives in the process's memory cache, across tests."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def english(db):
    return Locale.objects.get(language_code="en")


@pytest.fixture
def dutch(db):
    return Locale.objects.get_or_create(language_code="nl")[0]


@pytest.fixture
def home(english, dutch):
    root = Page.get_first_root_node()
    home = root.add_child(
        instance=HomePage(
            title="Home",
            slug="test-home",
            hero_title="Returns, made simple",
            locale=english,
        )
    )
    Site.objects.update_or_create(
        is_default_site=True,
        defaults={"hostname": "localhost", "port": 80, "root_page": home},
    )
    translation = home.copy_for_translation(dutch)
    translation.hero_title = "Retourneren, eenvoudig geregeld"
    translation.save_revision().publish()
    return home


@pytest.fixture
def index(home, dutch):
    index = home.add_child(
        instance=ReturnPolicyIndexPage(title="Returns", slug="returns")
    )
    dutch_index = index.copy_for_translation(dutch)
    dutch_index.title = "Retourneren"
    dutch_index.save_revision().publish()
    return index


RULES = {
    "summary": "Return it within 30 days.",
    "window_days": 30,
    "offers_refund": True,
    "offers_exchange": True,
    "fault_shipping_payer": "shop",
    "fault_shipping_cost": Decimal("4.95"),
    "remorse_shipping_payer": "customer",
    "remorse_shipping_cost": Decimal("4.95"),
}


def publish_policy(
    parent, *, title, categories=(), products=(), is_default=False, **rules
) -> ReturnPolicyPage:
    page = ReturnPolicyPage(title=title, is_default=is_default, **(RULES | rules))
    parent.add_child(instance=page)
    page.applies_to_categories.set(categories)
    page.applies_to_products.set(products)
    page.save_revision().publish()
    return page


def republish(page: ReturnPolicyPage, **changes) -> ReturnPolicyPage:
    page = ReturnPolicyPage.objects.get(pk=page.pk)
    for name, value in changes.items():
        setattr(page, name, value)
    page.save_revision().publish()
    return page


def translate(page: ReturnPolicyPage, locale, **changes) -> ReturnPolicyPage:
    translation = page.copy_for_translation(locale)
    for name, value in changes.items():
        setattr(translation, name, value)
    translation.save_revision().publish()
    return translation


@pytest.fixture
def make_policy(index):
    def make(**kwargs):
        return publish_policy(index, **kwargs)

    return make
