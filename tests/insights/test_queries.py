"""insights.queries: products to fix (Wilson lower bound vs the category), the
dashboard figures, centres and personas, with planted data and known answers."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from insights import queries
from insights.models import InsightsSettings, Persona
from insights.services import compute_insights, mark_fixed
from returns.models import FulfilmentCentre, ReturnStatus
from tests.factories import CategoryFactory, ProductFactory
from tests.insights.planted import NOW, customer, give_back, order

pytestmark = pytest.mark.django_db

START, END = date(2026, 1, 1), date(2026, 6, 30)
DELIVERED = NOW - timedelta(days=10)  # placed 2026-06-02


def sell(product, units, *, controllable=0, other=0, per_order=1, price=None, **kw):
    """`units` units of product in orders of `per_order`, of which `controllable`
    units come back as "size-fit" and `other` as "changed-mind"."""
    buyer = customer()
    backs = ["size-fit"] * controllable + ["changed-mind"] * other
    for n in range(0, units, per_order):
        spec = (product, per_order) if price is None else (product, per_order, price)
        made = order(buyer, spec, delivered=kw.get("delivered", DELIVERED))
        chunk = backs[n : n + per_order]
        for code in sorted(set(chunk)):
            give_back(
                made, (product, chunk.count(code), code), comment=kw.get("why", "")
            )
    return buyer


@pytest.fixture
def shoes():
    return CategoryFactory(name="Shoes")


def test_a_product_with_a_high_controllable_rate_among_fine_siblings_is_found(shoes):
    bad = ProductFactory(sku="BAD", category=shoes, price=Decimal("50.00"))
    sell(bad, 40, controllable=16, other=2, why="Runs small")
    for n in range(4):
        sell(ProductFactory(sku=f"OK{n}", category=shoes), 40, controllable=2, other=4)

    rows = queries.products_to_fix(start=START, end=END)

    assert [row.sku for row in rows] == ["BAD"]
    row = rows[0]
    assert (row.units, row.returned_units, row.controllable_units) == (40, 18, 16)
    assert row.return_rate == Decimal("0.4500")
    assert row.controllable_return_rate == Decimal("0.4000")
    # Category: (16 + 4 × 2) / 200 units.
    assert row.category_controllable_rate == Decimal("0.1200")
    assert row.category_return_rate == Decimal("0.2100")  # (18 + 4 × 6) / 200
    assert row.wilson_lower == Decimal("0.2635")
    assert row.excess == Decimal("0.2800")
    assert row.money_lost == Decimal("800.00")  # 16 × 50, nothing recovered
    assert row.priority == Decimal("560.00")  # 0.28 × 40 units × 50 lost per unit
    assert row.fix_area == "description"
    assert [(r.code, r.units) for r in row.top_reasons] == [
        ("size-fit", 16),
        ("changed-mind", 2),
    ]
    assert row.quotes == ["Runs small"]
    assert row.latest_fix is None


def test_a_product_with_few_units_is_not_flagged(shoes):
    few = ProductFactory(sku="FEW", category=shoes)
    sell(few, 19, controllable=15)  # product_min_units is 20
    sell(ProductFactory(category=shoes), 100, controllable=2)

    assert queries.products_to_fix(start=START, end=END) == []
    assert [
        r.sku for r in queries.products_to_fix(start=START, end=END, min_units=19)
    ] == ["FEW"]


def test_a_rate_above_the_category_but_not_clearly_is_not_flagged(shoes):
    sell(ProductFactory(sku="MEH", category=shoes), 20, controllable=4)  # 0.20
    sell(ProductFactory(category=shoes), 100, controllable=10)  # 0.10

    # Wilson lower bound of 4/20 is 0.081, below the category's 14/120 = 0.117.
    assert queries.products_to_fix(start=START, end=END) == []


def test_uncontrollable_returns_do_not_make_a_product_to_fix(shoes):
    sell(ProductFactory(sku="MIND", category=shoes), 40, other=30)
    sell(ProductFactory(category=shoes), 100, controllable=2)

    assert queries.products_to_fix(start=START, end=END) == []


def test_rejected_returns_do_not_count_for_products(shoes):
    bad = ProductFactory(sku="BAD", category=shoes)
    buyer = customer()
    for _n in range(30):
        made = order(buyer, (bad, 1), delivered=DELIVERED)
        give_back(made, (bad, 1, "size-fit"), status=ReturnStatus.REJECTED)
    sell(ProductFactory(category=shoes), 100, controllable=2)

    assert queries.products_to_fix(start=START, end=END) == []


def test_the_confirmed_reason_wins(shoes):
    bad = ProductFactory(sku="BAD", category=shoes)
    buyer = customer()
    for _n in range(30):
        made = order(buyer, (bad, 1), delivered=DELIVERED)
        # stated "defective" (controllable), found fine: changed mind
        give_back(made, (bad, 1, "defective"), confirmed={0: "changed-mind"})
    sell(ProductFactory(category=shoes), 100, controllable=2)

    assert queries.products_to_fix(start=START, end=END) == []
    reasons = queries.top_reasons(start=START, end=END)
    assert [(r.code, r.units) for r in reasons] == [
        ("changed-mind", 30),
        ("size-fit", 2),
    ]


def test_the_date_range_and_category_filter(shoes):
    bad = ProductFactory(sku="BAD", category=shoes)
    sell(bad, 40, controllable=16, delivered=NOW - timedelta(days=400))
    sell(ProductFactory(category=shoes), 100, controllable=2)

    assert queries.products_to_fix(start=START, end=END) == []
    assert [r.sku for r in queries.products_to_fix(start=None, end=None)] == ["BAD"]
    other = CategoryFactory(name="Hats")
    assert queries.products_to_fix(start=None, end=None, category=other) == []


def test_a_fix_shows_the_rate_before_and_after(shoes):
    bad = ProductFactory(sku="BAD", category=shoes)
    sell(bad, 40, controllable=20, delivered=NOW - timedelta(days=60))
    sell(bad, 20, controllable=1, delivered=NOW - timedelta(days=5))
    sell(ProductFactory(category=shoes), 100, controllable=2)
    fix = mark_fixed(
        product=bad,
        fixed_on=(NOW - timedelta(days=30)).date(),
        area="description",
        note="Size guide",
        by=None,
    )

    row = queries.products_to_fix(start=None, end=None)[0]

    assert row.latest_fix == fix
    assert row.rate_before_fix == Decimal("0.5000")
    assert row.rate_after_fix == Decimal("0.0500")
    listed = queries.product_fixes()
    assert [(f.fix, f.units_before, f.units_after) for f in listed] == [(fix, 40, 20)]


def test_overview_and_value_rates():
    product = ProductFactory(price=Decimal("10.00"))
    dear = ProductFactory(price=Decimal("90.00"))
    buyer = customer()
    made = order(buyer, (product, 3), (dear, 1), delivered=DELIVERED)
    give_back(made, (product, 1, "changed-mind"), (dear, 1, "defective"))
    order(buyer, (product, 1), delivered=DELIVERED, undelivered=True)

    result = queries.overview(start=START, end=END)

    assert result == queries.Overview(
        units=4,
        returned_units=2,
        unit_rate=Decimal("0.5000"),
        value=Decimal("120.00"),
        returned_value=Decimal("100.00"),
        value_rate=Decimal("0.8333"),
        controllable_units=1,
        uncontrollable_units=1,
    )
    areas = {
        row.area: row.units for row in queries.fix_area_split(start=START, end=END)
    }
    assert areas == {
        "quality": 1,
        "none": 1,
        "description": 0,
        "packaging": 0,
        "fulfilment": 0,
        "delivery": 0,
    }


def test_monthly_lists_every_month_with_costs():
    product = ProductFactory(price=Decimal("10.00"))
    buyer = customer()
    made = order(buyer, (product, 2), delivered=DELIVERED)
    give_back(
        made,
        (product, 1),
        at=NOW,
        shipping_cost=Decimal("4.95"),
        handling_cost=Decimal("6.00"),
        refund_total=Decimal("10.00"),
        value_recovered=Decimal("8.00"),
    )

    rows = queries.monthly(start=date(2026, 4, 1), end=END)

    assert [row.month for row in rows] == [
        date(2026, 4, 1),
        date(2026, 5, 1),
        date(2026, 6, 1),
    ]
    assert rows[0].units == 0
    june = rows[2]
    assert (june.units, june.returned_units, june.unit_rate) == (
        2,
        1,
        Decimal("0.5000"),
    )
    assert (june.shipping_cost, june.handling_cost) == (
        Decimal("4.95"),
        Decimal("6.00"),
    )
    assert (june.refunds, june.value_recovered) == (Decimal("10.00"), Decimal("8.00"))


@pytest.mark.parametrize(
    ("placed", "in_may"),
    [
        # 23:59 on 30 April in Amsterdam (UTC+2)
        (datetime(2026, 4, 30, 21, 59, tzinfo=UTC), False),
        # 00:30 on 1 May in Amsterdam, still April in UTC
        (datetime(2026, 4, 30, 22, 30, tzinfo=UTC), True),
    ],
)
def test_months_and_fixes_follow_the_shops_time_zone(settings, placed, in_may):
    settings.SHOP_TIME_ZONE = "Europe/Amsterdam"
    product = ProductFactory(price=Decimal("10.00"))
    made = order(customer(), (product, 2), placed=placed, delivered=placed)
    give_back(made, (product, 1, "size-fit"), at=placed, shipping_cost=Decimal("5"))
    fix = mark_fixed(
        product=product, fixed_on=date(2026, 5, 1), area="description", note="", by=None
    )

    rows = queries.monthly(start=date(2026, 4, 1), end=date(2026, 5, 31))

    sold, nothing = (2, 1, Decimal("5.00")), (0, 0, Decimal("0.00"))
    assert [(r.month, r.units, r.returned_units, r.shipping_cost) for r in rows] == [
        (date(2026, 4, 1), *(nothing if in_may else sold)),
        (date(2026, 5, 1), *(sold if in_may else nothing)),
    ]
    # The fix of 1 May starts at midnight in the shop's time zone.
    [listed] = queries.product_fixes()
    counted, none = (2, Decimal("0.5000")), (0, None)
    assert listed.fix == fix
    assert (listed.units_before, listed.rate_before) == (none if in_may else counted)
    assert (listed.units_after, listed.rate_after) == (counted if in_may else none)


def test_centre_quality():
    centre = FulfilmentCentre.objects.create(name="Main", code="main", address="x")
    product = ProductFactory()
    buyer = customer()
    made = order(buyer, (product, 4), delivered=DELIVERED)
    request = give_back(
        made,
        (product, 4, "defective"),
        centre=centre,
        at=NOW,
        confirmed={0: "wrong-item"},
    )
    request.lines.update(condition="damaged")
    other = order(buyer, (product, 1), delivered=DELIVERED)
    give_back(other, (product, 1, "changed-mind"), centre=centre, at=NOW)
    request2 = other.return_requests.get()
    request2.lines.update(
        condition="as_new", confirmed_reason=request2.lines.get().reason
    )

    [row] = queries.centre_quality(start=START, end=END)

    assert (row.code, row.received_lines, row.inspected_lines) == ("main", 2, 2)
    assert row.damaged_rate == Decimal("0.5000")
    assert row.wrong_item_rate == Decimal("0.5000")
    assert row.reason_mismatch_rate == Decimal("0.5000")


def test_persona_distribution_and_audiences():
    product = ProductFactory()
    fresh = customer()
    once = customer()
    order(once, (product, 1), delivered=NOW - timedelta(days=100))
    compute_insights(now=NOW, customer_ids=[once.pk])  # `fresh` never computed

    counts = {row.persona: row.customers for row in queries.persona_distribution()}

    assert counts == {
        Persona.NEW: 1,
        Persona.ONE_TIME: 1,
        Persona.LOYAL_KEEPER: 0,
        Persona.BRACKETER: 0,
        Persona.SERIAL_RETURNER: 0,
    }
    new_ids = set(
        queries.customer_ids_in_persona(Persona.NEW).values_list("pk", flat=True)
    )
    assert new_ids == {fresh.pk}
    assert list(queries.customer_ids_in_persona(Persona.ONE_TIME)) == [
        {"customer_id": once.pk}
    ]


def test_queries_run_a_fixed_number_of_queries(shoes, django_assert_max_num_queries):
    bad = ProductFactory(sku="BAD", category=shoes)
    sell(bad, 40, controllable=16, why="Small")
    sell(ProductFactory(sku="BAD2", category=shoes), 40, controllable=16)
    sell(ProductFactory(category=shoes), 200, controllable=2)
    InsightsSettings.load()

    with django_assert_max_num_queries(7):
        rows = queries.products_to_fix(start=START, end=END)
    assert len(rows) == 2
