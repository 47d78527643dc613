"""The page tree and the validation editors meet in the admin."""

from decimal import Decimal

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from wagtail.models import Page, Site
from wagtail.test.utils import WagtailPageTestCase
from wagtail.test.utils.form_data import nested_form_data, rich_text, streamfield

from cms.models import (
    HomePage,
    ReturnPolicyIndexPage,
    ReturnPolicyPage,
    ReturnPolicyPageForm,
)
from tests.factories import CategoryFactory

pytestmark = pytest.mark.django_db


class TestPageTree(WagtailPageTestCase):
    def setUp(self):
        root = Page.get_first_root_node()
        self.home = root.add_child(instance=HomePage(title="Home", slug="tree-home"))
        Site.objects.update_or_create(
            is_default_site=True,
            defaults={"hostname": "localhost", "port": 80, "root_page": self.home},
        )
        self.index = self.home.add_child(
            instance=ReturnPolicyIndexPage(title="Returns", slug="returns")
        )
        self.login()

    def test_parents_and_children(self):
        self.assertAllowedParentPageTypes(HomePage, {Page})
        self.assertAllowedSubpageTypes(
            HomePage,
            {
                ReturnPolicyIndexPage,
                apps.get_model("reviews", "FeedbackWallPage"),
                apps.get_model("reviews", "ReviewPolicyPage"),
            },
        )
        self.assertAllowedParentPageTypes(ReturnPolicyIndexPage, {HomePage})
        self.assertAllowedSubpageTypes(ReturnPolicyIndexPage, {ReturnPolicyPage})
        self.assertAllowedParentPageTypes(ReturnPolicyPage, {ReturnPolicyIndexPage})
        self.assertAllowedSubpageTypes(ReturnPolicyPage, set())
        self.assertCanNotCreateAt(HomePage, ReturnPolicyPage)
        self.assertCanCreateAt(ReturnPolicyIndexPage, ReturnPolicyPage)
        self.assertCanCreateAt(HomePage, ReturnPolicyIndexPage)
        # one Returns index per home page, and it exists already
        assert not ReturnPolicyIndexPage.can_create_at(self.home)

    def test_an_editor_creates_and_publishes_a_policy_in_the_admin(self):
        clothing = CategoryFactory(name="Clothing")
        data = nested_form_data(
            {
                "title": "Clothing",
                "slug": "clothing",
                "summary": "Return clothing within 30 days, free.",
                "body": streamfield(
                    [
                        ("heading", {"text": "How to return", "level": "h2"}),
                        ("paragraph", rich_text("<p>Print the label.</p>")),
                        (
                            "faq_item",
                            {
                                "question": "Other size?",
                                "answer": rich_text("<p>Yes.</p>"),
                            },
                        ),
                    ]
                ),
                "window_days": 30,
                "offers_refund": "on",
                "offers_exchange": "on",
                "store_credit_bonus_percent": "0",
                "return_method": "by_mail",
                "currency": "EUR",
                "fault_shipping_payer": "shop",
                "fault_shipping_cost": "4.95",
                "remorse_shipping_payer": "shop",
                "remorse_shipping_cost": "4.95",
                "restocking_fee_percent": "0",
            }
        )
        data["applies_to_categories"] = [clothing.pk]  # a multiple choice, not nested
        self.assertCanCreate(self.index, ReturnPolicyPage, data)

        page = ReturnPolicyPage.objects.get(slug="clothing")
        assert page.live
        assert list(page.applies_to_categories.all()) == [clothing]
        self.assertPageIsRoutable(page)
        self.assertPageIsRenderable(page)


def policy(**changes) -> ReturnPolicyPage:
    values = {
        "title": "Shoes",
        "slug": "shoes",
        "summary": "30 days.",
        "window_days": 30,
    } | changes
    return ReturnPolicyPage(**values)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"not_returnable": True}, "not_returnable_reason"),
        ({"window_days": 0}, "window_days"),
        (
            {"offers_refund": False, "offers_exchange": False},
            "offers_refund",
        ),
        ({"store_credit_bonus_percent": Decimal("5")}, "store_credit_bonus_percent"),
        ({"restocking_fee_percent": Decimal("101")}, "restocking_fee_percent"),
        ({"remorse_shipping_cost": Decimal("-1")}, "remorse_shipping_cost"),
        ({"window_days": 400}, "window_days"),
    ],
)
def test_invalid_rules_name_the_field(changes, field):
    page = policy(**changes)

    with pytest.raises(ValidationError) as error:
        page.full_clean(
            exclude=["path", "depth", "url_path", "translation_key", "locale"]
        )

    assert field in error.value.message_dict


def test_a_not_returnable_policy_needs_no_window_or_resolution():
    page = policy(
        not_returnable=True,
        not_returnable_reason="Hygiene",
        window_days=0,
        offers_refund=False,
        offers_exchange=False,
    )

    page.clean()


def test_only_one_default_policy_per_language(index, make_policy, dutch):
    make_policy(title="Standard", is_default=True)
    second = policy(title="Other", is_default=True, locale=index.locale)

    with pytest.raises(ValidationError) as error:
        second.clean()

    assert error.value.message_dict["is_default"] == [
        "“Standard” is already the default policy in this language."
    ]
    # another language may have its own default
    policy(title="Standaard", is_default=True, locale=dutch).clean()


@pytest.mark.parametrize(
    ("is_default", "with_category", "field"),
    [(True, True, "is_default"), (False, False, "applies_to_categories")],
)
def test_the_form_wants_targets_or_default_but_not_both(
    index, is_default, with_category, field
):
    category = CategoryFactory()
    form_class = ReturnPolicyPage.get_edit_handler().get_form_class()
    data = {
        "title": "Shoes",
        "slug": "shoes",
        "summary": "30 days.",
        "body-count": "0",
        "window_days": 30,
        "offers_refund": "on",
        "store_credit_bonus_percent": "0",
        "return_method": "by_mail",
        "currency": "EUR",
        "fault_shipping_payer": "shop",
        "fault_shipping_cost": "0",
        "remorse_shipping_payer": "customer",
        "remorse_shipping_cost": "0",
        "restocking_fee_percent": "0",
        "applies_to_categories": [category.pk] if with_category else [],
    }
    if is_default:
        data["is_default"] = "on"
    form = form_class(
        data, instance=ReturnPolicyPage(), parent_page=index, for_user=None
    )

    assert issubclass(form_class, ReturnPolicyPageForm)
    assert not form.is_valid()
    assert field in form.errors
