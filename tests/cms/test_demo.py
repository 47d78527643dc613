"""seed_demo's pages: the Returns index and a policy per demo category, in English and
Dutch, published, so the shop's demo products have policies."""

from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import transaction
from wagtail.models import GroupPagePermission, Locale, WorkflowPage

from cms.models import PolicySnapshot, ReturnPolicyIndexPage, ReturnPolicyPage
from cms.queries import policy_for
from shop.models import Product

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """The whole demo, seeded once for the module inside a transaction that every
    test's savepoint nests in, undone at the end. Yields what the first run printed."""
    with django_db_blocker.unblock(), transaction.atomic():
        out = StringIO()
        call_command("seed_demo", stdout=out, stderr=StringIO())
        yield out.getvalue()
        transaction.set_rollback(True)


def test_seed_creates_the_returns_index_and_policies_in_both_languages(seeded):
    assert "cms: created 1 locales, 4 pages, 12 policy pages" in seeded
    dutch = Locale.objects.get(language_code="nl")
    index = ReturnPolicyIndexPage.objects.get(locale__language_code="en")
    assert index.live
    assert index.get_translation(dutch).title == "Retourneren"
    titles = {
        (page.locale.language_code, page.title)
        for page in ReturnPolicyPage.objects.live().select_related("locale")
    }
    assert ("en", "Clothing") in titles and ("nl", "Kleding") in titles
    assert len(titles) == 12
    assert PolicySnapshot.objects.filter(valid_to=None).count() == 12


@pytest.mark.parametrize(
    ("sku", "lang", "title", "window", "fee", "returnable"),
    [
        ("CLO-001", "en", "Clothing", 30, "0.00", True),
        ("SHO-001", "nl", "Schoenen", 30, "0.00", True),
        ("ELE-001", "en", "Electronics", 14, "10.00", True),
        ("BEA-001", "nl", "Verzorging", 14, "0.00", True),
        ("BEA-006", "en", "Hygiene items", 0, "0.00", False),
        ("SPO-010", "nl", "Hygiëneartikelen", 0, "0.00", False),
        ("HOM-001", "en", "Standard returns", 30, "0.00", True),
    ],
)
def test_every_demo_product_has_its_policy(
    seeded, sku, lang, title, window, fee, returnable
):
    rules = policy_for(Product.objects.get(sku=sku), locale=lang)

    assert rules.title == title
    assert rules.window_days == window
    assert str(rules.restocking_fee_percent) == fee
    assert rules.is_returnable is returnable


def test_editors_may_edit_policies_through_the_moderation_workflow(seeded):
    index = ReturnPolicyIndexPage.objects.get(locale__language_code="en")
    editors = Group.objects.get(name="Editors")

    assert set(
        GroupPagePermission.objects.filter(group=editors, page=index).values_list(
            "permission__codename", flat=True
        )
    ) == {"add_page", "change_page"}
    assert WorkflowPage.objects.get(page=index).workflow.name == "Moderators approval"
    assert index.get_workflow().name == "Moderators approval"


def test_a_second_run_creates_nothing(seeded):
    before = (
        ReturnPolicyPage.objects.count(),
        PolicySnapshot.objects.count(),
        GroupPagePermission.objects.count(),
    )

    out = StringIO()
    call_command("seed_demo", stdout=out, stderr=StringIO())

    assert "cms: created 0 locales, 0 pages, 0 policy pages" in out.getvalue()
    assert (
        ReturnPolicyPage.objects.count(),
        PolicySnapshot.objects.count(),
        GroupPagePermission.objects.count(),
    ) == before


def test_the_demo_policy_pages_render(seeded, client):
    english = client.get("/returns/electronics/")
    dutch = client.get("/nl/returns/electronics/")

    assert english.status_code == 200
    assert "Return electronics within 14 days" in english.content.decode()
    assert '"merchantReturnDays": 14' in english.content.decode()
    assert "Retourneer elektronica binnen 14 dagen" in dutch.content.decode()
