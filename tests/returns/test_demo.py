"""seed_demo's returns: about 12 % of delivered lines, reasons leaning by category,
a few serial returners, every state, and nothing new on a second run."""

from collections import Counter

import pytest

from cms import demo as cms_demo
from emails.models import Message
from returns import demo
from returns.models import ReturnLine, ReturnRequest, ReturnStatus
from shop import demo as shop_demo
from shop.models import OrderLine

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """One demo for the module (it takes a while): undone at the end."""
    with django_db_blocker.unblock():
        from django.db import transaction

        with transaction.atomic():
            shop_demo.seed_demo(orders=600, customers=60)
            cms_demo.seed_demo()
            first = demo.seed_demo()
            second = demo.seed_demo()
            yield first, second
            transaction.set_rollback(True)


def test_a_second_run_changes_nothing(seeded):
    first, second = seeded
    assert first["fulfilment centres"] == 2
    assert first["returns"] > 20
    assert second == {"fulfilment centres": 0, "returns": 0}


def test_about_one_in_eight_delivered_lines_comes_back(seeded):
    delivered = OrderLine.objects.filter(
        order__external_id__startswith="demo-", order__delivered_at__isnull=False
    ).count()
    returned = ReturnLine.objects.count()
    assert 0.07 <= returned / delivered <= 0.2


def test_every_state_is_present(seeded):
    statuses = set(ReturnRequest.objects.values_list("status", flat=True))
    assert statuses == set(ReturnStatus.values)


def test_reasons_lean_by_category(seeded):
    by_category = Counter(
        ReturnLine.objects.values_list(
            "order_line__product__category__name", "reason__code"
        )
    )
    clothing = {r: n for (c, r), n in by_category.items() if c in ("Clothing", "Shoes")}
    assert max(clothing, key=clothing.get) == "size-fit"


def test_a_few_customers_return_far_more_than_the_rest(seeded):
    per_customer = Counter(ReturnRequest.objects.values_list("customer_id", flat=True))
    top = [n for _customer, n in per_customer.most_common(3)]
    median = sorted(per_customer.values())[len(per_customer) // 2]
    assert min(top) >= 3 * median


def test_the_demo_customer_has_returns_and_no_mail_goes_out(seeded):
    assert ReturnRequest.objects.filter(customer__email="customer@example.com").exists()
    assert not Message.objects.filter(
        key__startswith="return-", status="queued"
    ).exists()
