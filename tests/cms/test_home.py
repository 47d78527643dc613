"""The home page is the site's root, in English at / and in Dutch at /nl/."""

import pytest
from wagtail.models import Locale, Page, Site

from cms.models import HomePage


@pytest.fixture
def home_page(db):
    """What seed_demo sets up: a HomePage at the root of the default site, and its
    Dutch translation."""
    english = Locale.objects.get(language_code="en")
    dutch, _ = Locale.objects.get_or_create(language_code="nl")
    root = Page.get_first_root_node()
    home = root.add_child(
        instance=HomePage(
            title="Home",
            slug="returnwise-home",
            hero_title="Returns, made simple",
            intro="<p>Start a return in a few clicks.</p>",
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


def test_home_page_shows_the_hero_title(client, home_page):
    response = client.get("/")

    assert response.status_code == 200
    assert [t.name for t in response.templates][0] == "cms/home_page.html"
    html = response.content.decode()
    assert "<h1>Returns, made simple</h1>" in html
    assert "Start a return in a few clicks." in html
    assert '<html lang="en">' in html


def test_dutch_home_page_is_served_at_nl(client, home_page):
    response = client.get("/nl/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Retourneren, eenvoudig geregeld</h1>" in html
    assert '<html lang="nl">' in html


def test_home_page_falls_back_to_the_title_without_a_hero_title(client, home_page):
    home_page.hero_title = ""
    home_page.save_revision().publish()

    response = client.get("/")

    assert "<h1>Home</h1>" in response.content.decode()


def test_home_page_links_to_the_published_policies_and_its_cards(client, home_page):
    from cms.models import ReturnPolicyIndexPage, ReturnPolicyPage
    from tests.factories import CategoryFactory

    index = home_page.add_child(
        instance=ReturnPolicyIndexPage(title="Returns", slug="returns")
    )
    policy = index.add_child(
        instance=ReturnPolicyPage(
            title="Shoes", slug="shoes", summary="30 days for shoes.", live=False
        )
    )
    policy.applies_to_categories.set([CategoryFactory()])
    policy.save_revision().publish()
    home_page.links = [
        (
            "card",
            {
                "title": "Reviews",
                "text": "Tell others what you think.",
                "page": None,
                "url": "/reviews/",
                "link_text": "Write a review",
            },
        ),
        (
            "card",
            {
                "title": "Our policies",
                "text": "",
                "page": index,
                "url": "",
                "link_text": "Read them",
            },
        ),
    ]
    home_page.save_revision().publish()

    html = client.get("/").content.decode()

    assert '<a href="/returns/shoes/">Shoes</a>' in html
    assert "30 days for shoes." in html
    assert '<a class="button" href="/reviews/">Write a review</a>' in html
    assert '<a class="button" href="/returns/">Read them</a>' in html


def test_a_link_card_needs_a_page_or_an_address_not_both(db):
    from wagtail.blocks.struct_block import StructBlockValidationError

    from cms.blocks import LinkCardBlock

    block = LinkCardBlock()
    for page, url in ((None, ""), (Page.get_first_root_node(), "/x/")):
        value = block.to_python(
            {
                "title": "T",
                "text": "",
                "page": page and page.pk,
                "url": url,
                "link_text": "Go",
            }
        )
        with pytest.raises(StructBlockValidationError):
            block.clean(value)
