"""policy_for: the most specific policy, as published at the moment asked about."""

import uuid
from decimal import Decimal

import pytest
from django.utils import timezone

from cms.models import PolicySnapshot, PolicySnapshotTarget
from cms.queries import policies_for, policy_for
from tests.cms.conftest import publish_policy, republish, translate
from tests.factories import CategoryFactory, OrderFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def shoes():
    return CategoryFactory(name="Shoes")


def test_a_product_policy_beats_its_category_policy_which_beats_the_default(
    make_policy, shoes
):
    boots, sneakers, lamp = (
        ProductFactory(category=shoes),
        ProductFactory(category=shoes),
        ProductFactory(),
    )
    make_policy(title="Standard", is_default=True, window_days=30)
    make_policy(title="Shoes", categories=[shoes], window_days=20)
    make_policy(title="Boots", products=[boots], window_days=10)

    assert policy_for(boots).title == "Boots"
    assert policy_for(sneakers).title == "Shoes"
    assert policy_for(lamp).title == "Standard"
    assert policy_for(ProductFactory(category=None)).title == "Standard"


def test_no_policy_at_all_is_none(index):
    assert policy_for(ProductFactory()) is None


def test_an_order_is_judged_by_the_rules_published_when_it_was_placed(
    make_policy, shoes
):
    # given a shoe policy of 30 days, and an order placed under it
    policy = make_policy(title="Shoes", categories=[shoes], window_days=30)
    product = ProductFactory(category=shoes)
    order = OrderFactory(placed_at=timezone.now())

    # when the policy is shortened to 14 days afterwards
    republish(policy, window_days=14)

    # then the order keeps the 30 days, a new order gets 14
    assert policy_for(product, at=order.placed_at).window_days == 30
    assert policy_for(product).window_days == 14
    assert PolicySnapshot.objects.filter(page_id=policy.pk).count() == 2
    assert PolicySnapshot.objects.filter(page_id=policy.pk, valid_to=None).count() == 1


def test_before_the_first_publish_there_is_no_policy(make_policy, shoes):
    before = timezone.now()
    make_policy(title="Shoes", categories=[shoes])

    assert policy_for(ProductFactory(category=shoes), at=before) is None


def test_an_unpublished_policy_stops_applying_but_still_judges_older_orders(
    make_policy, shoes
):
    product = ProductFactory(category=shoes)
    make_policy(title="Standard", is_default=True)
    policy = make_policy(title="Shoes", categories=[shoes])
    placed = timezone.now()

    policy.unpublish()

    assert policy_for(product).title == "Standard"
    assert policy_for(product, at=placed).title == "Shoes"


def test_a_deleted_policy_stops_applying(make_policy, shoes):
    product = ProductFactory(category=shoes)
    policy = make_policy(title="Shoes", categories=[shoes])
    placed = timezone.now()

    policy.delete()

    assert policy_for(product) is None
    assert policy_for(product, at=placed).title == "Shoes"


def test_a_draft_change_does_not_apply_until_published(make_policy, shoes):
    policy = make_policy(title="Shoes", categories=[shoes], window_days=30)
    policy.window_days = 7
    policy.save_revision()

    assert policy_for(ProductFactory(category=shoes)).window_days == 30


def test_the_translation_is_used_and_each_level_falls_back_to_english(
    make_policy, shoes, dutch
):
    boots = ProductFactory(category=shoes)
    standard = make_policy(title="Standard", is_default=True)
    make_policy(title="Shoes", categories=[shoes])
    translate(standard, dutch, title="Standaard")

    # the Dutch default exists, the shoe policy has no translation yet: the more
    # specific English one wins over the Dutch default
    assert policy_for(boots, locale="nl").title == "Shoes"
    assert policy_for(ProductFactory(), locale="nl").title == "Standaard"
    assert policy_for(ProductFactory(), locale=dutch).title == "Standaard"
    assert policy_for(ProductFactory(), locale="en").title == "Standard"


def test_rules_carry_the_published_values(make_policy, shoes):
    make_policy(
        title="Electronics",
        categories=[shoes],
        window_days=14,
        offers_repair=True,
        restocking_fee_percent=Decimal("10"),
        returnless_max_item_value=Decimal("5.00"),
    )

    rules = policy_for(ProductFactory(category=shoes))

    assert rules.window_days == 14
    assert rules.resolutions == ("refund", "exchange", "repair")
    assert rules.restocking_fee_percent == Decimal("10.00")
    assert rules.returnless_max_item_value == Decimal("5.00")
    assert rules.returnless_min_cost_ratio is None
    assert rules.url == "http://127.0.0.1:8000/returns/electronics/"
    assert rules.snapshot_id is not None


@pytest.mark.parametrize("count", [5, 500])
def test_policy_for_costs_the_same_queries_however_many_policies(
    index, django_assert_num_queries, count
):
    # given a default policy and `count` category policies (the snapshots publishing
    # writes, copied in bulk: publishing 500 pages would take minutes)
    standard = publish_policy(index, title="Standard", is_default=True)
    template = PolicySnapshot.objects.get(page_id=standard.pk)
    categories = CategoryFactory.create_batch(count)
    snapshots = PolicySnapshot.objects.bulk_create(
        PolicySnapshot(
            page_id=100_000 + number,
            translation_key=uuid.uuid4(),
            locale="en",
            title=f"Policy {number}",
            rules=template.rules | {"title": f"Policy {number}"},
            valid_from=template.valid_from,
        )
        for number in range(count)
    )
    PolicySnapshotTarget.objects.bulk_create(
        PolicySnapshotTarget(snapshot=snapshot, category_id=category.pk)
        for snapshot, category in zip(snapshots, categories, strict=True)
    )
    products = [ProductFactory(category=category) for category in categories[:3]]
    products.append(ProductFactory(category=None))

    with django_assert_num_queries(2):
        found = policies_for(products, at=timezone.now())

    assert [found[p.pk].title for p in products] == [
        "Policy 0",
        "Policy 1",
        "Policy 2",
        "Standard",
    ]
