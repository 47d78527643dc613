"""compute_insights: the serial-returner rule at each threshold, the window edge,
returns that do not count, value vs unit rates, brackets and personas, overrides."""

from datetime import timedelta
from decimal import Decimal

import pytest

from insights.models import CustomerInsight, InsightsSettings, Persona
from insights.services import compute_insights, set_override
from returns.models import ReturnStatus
from tests.factories import CategoryFactory, ProductFactory, UserFactory
from tests.insights.planted import NOW, customer, give_back, order

pytestmark = pytest.mark.django_db


@pytest.fixture
def shirt():
    return ProductFactory(price=Decimal("20.00"), category=CategoryFactory(name="Tops"))


def _buyer(shirt, *, orders=3, units=2, returned=(1, 1, 1), ago=40):
    """A customer with `orders` delivered orders of `units` shirts each, returning
    `returned[i]` units of order i."""
    who = customer()
    for i in range(orders):
        made = order(who, (shirt, units), delivered=NOW - timedelta(days=ago + i))
        if i < len(returned) and returned[i]:
            give_back(made, (shirt, returned[i]))
    return who


def _insight(who) -> CustomerInsight:
    return CustomerInsight.objects.get(customer=who)


def test_a_customer_exactly_at_every_threshold_is_a_serial_returner(shirt):
    # 3 orders, 6 units, 3 returned: rate 0.5, 3 units, 3 orders.
    who = _buyer(shirt)

    report = compute_insights(now=NOW)

    row = _insight(who)
    assert (row.orders, row.delivered_units, row.returned_units) == (3, 6, 3)
    assert row.return_rate == Decimal("0.5000")
    assert row.delivered_value == Decimal("120.00")
    assert row.returned_value == Decimal("60.00")
    assert row.computed_serial is True
    assert row.is_serial_returner is True
    assert row.persona == Persona.SERIAL_RETURNER
    assert row.flagged_since == NOW
    assert report.customers == 1
    assert report.serial_returners == 1


@pytest.mark.parametrize(
    ("orders", "units", "returned", "why"),
    [
        (2, 3, (2, 1), "two orders only"),
        (3, 1, (1, 1, 0), "two returned units only"),
        (3, 3, (1, 2, 1), "rate 4/9 below 0.5"),
    ],
)
def test_one_below_any_threshold_is_not(shirt, orders, units, returned, why):
    who = _buyer(shirt, orders=orders, units=units, returned=returned)

    compute_insights(now=NOW)

    assert _insight(who).computed_serial is False, why
    assert _insight(who).flagged_since is None


def test_rejected_and_cancelled_returns_do_not_count(shirt):
    who = customer()
    orders = [
        order(who, (shirt, 2), delivered=NOW - timedelta(days=d)) for d in (5, 6, 7)
    ]
    give_back(orders[0], (shirt, 1))
    give_back(orders[1], (shirt, 1))
    give_back(orders[2], (shirt, 1), status=ReturnStatus.REJECTED)
    give_back(orders[2], (shirt, 2), status=ReturnStatus.CANCELLED)

    compute_insights(now=NOW)

    row = _insight(who)
    assert row.returned_units == 2
    assert row.computed_serial is False


def test_a_return_counts_from_its_request(shirt):
    who = customer()
    for d in (5, 6, 7):
        made = order(who, (shirt, 2), delivered=NOW - timedelta(days=d))
        give_back(made, (shirt, 1), status=ReturnStatus.REQUESTED)

    compute_insights(now=NOW)

    assert _insight(who).computed_serial is True


@pytest.mark.parametrize(
    ("age", "inside"),
    [(timedelta(days=365), True), (timedelta(days=365, seconds=1), False)],
)
def test_the_365_day_window_edge(shirt, age, inside):
    who = customer()
    oldest = order(who, (shirt, 2), delivered=NOW - age)
    give_back(oldest, (shirt, 1))
    for d in (5, 6):
        give_back(order(who, (shirt, 2), delivered=NOW - timedelta(days=d)), (shirt, 1))

    compute_insights(now=NOW)

    row = _insight(who)
    assert row.orders == (3 if inside else 2)
    assert row.computed_serial is inside


def test_value_rate_differs_from_unit_rate(shirt):
    cheap = ProductFactory(price=Decimal("5.00"), category=shirt.category)
    who = customer()
    made = order(who, (shirt, 1), (cheap, 3))
    give_back(made, (cheap, 3))

    compute_insights(now=NOW)

    row = _insight(who)
    assert row.return_rate == Decimal("0.7500")  # 3 of 4 units
    assert row.value_return_rate == Decimal("0.4286")  # 15 of 35 euros
    assert row.returned_value == Decimal("15.00")


def test_settings_change_the_rule(shirt):
    who = _buyer(shirt)
    config = InsightsSettings.load()
    config.serial_min_return_rate = Decimal("0.51")
    config.save()

    compute_insights(now=NOW)

    assert _insight(who).computed_serial is False


def test_flagged_since_stays_on_recompute_and_clears_when_the_flag_drops(shirt):
    who = _buyer(shirt)
    compute_insights(now=NOW)

    compute_insights(now=NOW + timedelta(days=1))
    assert _insight(who).flagged_since == NOW

    compute_insights(now=NOW + timedelta(days=400))
    assert _insight(who).flagged_since is None
    assert _insight(who).computed_serial is False


def test_overrides_win_both_ways(shirt):
    serial = _buyer(shirt, returned=(2, 2, 0))  # no bracket: all or none back
    fine = _buyer(shirt, returned=(0, 0, 0))
    staff = UserFactory(is_staff=True)
    compute_insights(now=NOW)

    set_override(customer=serial, override="never", reason="VIP", by=staff, now=NOW)
    set_override(customer=fine, override="always", reason="abuse", by=staff, now=NOW)

    assert _insight(serial).is_serial_returner is False
    assert _insight(serial).persona == Persona.LOYAL_KEEPER
    assert _insight(serial).flagged_since is None
    assert _insight(fine).is_serial_returner is True
    assert _insight(fine).persona == Persona.SERIAL_RETURNER
    assert _insight(fine).flagged_since == NOW
    # ... and survive a recompute.
    compute_insights(now=NOW + timedelta(hours=1))
    assert _insight(serial).persona == Persona.LOYAL_KEEPER
    assert _insight(fine).persona == Persona.SERIAL_RETURNER
    assert _insight(fine).override_by == staff


def test_incremental_recompute_touches_only_the_given_customers(shirt):
    one = _buyer(shirt)
    other = _buyer(shirt)

    report = compute_insights(now=NOW, customer_ids=[one.pk])

    assert report.customers == 1
    assert _insight(one).computed_serial is True
    assert not CustomerInsight.objects.filter(customer=other).exists()


def test_recompute_is_idempotent(shirt):
    _buyer(shirt)
    customer()
    compute_insights(now=NOW)
    before = list(CustomerInsight.objects.order_by("pk").values())

    compute_insights(now=NOW)

    assert list(CustomerInsight.objects.order_by("pk").values()) == before


# Personas --------------------------------------------------------------------------


def _persona(who) -> str:
    return _insight(who).persona


def test_personas_new_customers():
    product = ProductFactory()
    nothing = customer()
    undelivered = customer()
    order(undelivered, (product, 1), undelivered=True)
    recent = customer()
    order(recent, (product, 1), delivered=NOW - timedelta(days=30))

    compute_insights(now=NOW)

    assert _persona(nothing) == Persona.NEW
    assert _persona(undelivered) == Persona.NEW
    assert _persona(recent) == Persona.NEW


def test_personas_one_time_and_loyal_keeper():
    product = ProductFactory()
    once = customer()
    order(once, (product, 1), delivered=NOW - timedelta(days=31))
    twice = customer()
    order(twice, (product, 1), delivered=NOW - timedelta(days=400))
    give_back(
        order(twice, (product, 2), delivered=NOW - timedelta(days=40)), (product, 2)
    )

    compute_insights(now=NOW)

    assert _persona(once) == Persona.ONE_TIME
    assert _persona(twice) == Persona.LOYAL_KEEPER


TOPS = "Tops"


@pytest.mark.parametrize(
    ("lines", "returned", "bracketer"),
    [
        # one line, quantity 3 (three sizes of one product), two back
        ([("a", TOPS, 3)], [("a", 2)], True),
        # all three back: not a bracket (returned everything)
        ([("a", TOPS, 3)], [("a", 3)], False),
        # one of two back: a bracket of two
        ([("a", TOPS, 2)], [("a", 1)], True),
        # two products of one category, one back
        ([("a", TOPS, 1), ("b", TOPS, 1)], [("b", 1)], True),
        # two products of different categories, one back: not a bracket
        ([("a", TOPS, 1), ("b", "Shoes", 1)], [("b", 1)], False),
        # uncategorised products are grouped per product, not together
        ([("a", None, 1), ("b", None, 1)], [("b", 1)], False),
        # nothing back
        ([("a", TOPS, 2)], [], False),
    ],
)
def test_bracketer(lines, returned, bracketer):
    products = {
        key: ProductFactory(category=CategoryFactory(name=cat) if cat else None)
        for key, cat, _q in lines
    }
    who = customer()
    order(who, (ProductFactory(), 1), delivered=NOW - timedelta(days=100))
    made = order(
        who,
        *[(products[key], qty) for key, _cat, qty in lines],
        delivered=NOW - timedelta(days=40),
    )
    if returned:
        give_back(made, *[(products[key], qty) for key, qty in returned])

    compute_insights(now=NOW)

    assert _insight(who).brackets == (1 if bracketer else 0)
    assert _persona(who) == (Persona.BRACKETER if bracketer else Persona.LOYAL_KEEPER)


def test_a_bracket_outside_the_window_does_not_count(shirt):
    who = customer()
    made = order(who, (shirt, 2), delivered=NOW - timedelta(days=366))
    give_back(made, (shirt, 1))
    order(who, (shirt, 1), delivered=NOW - timedelta(days=40))

    compute_insights(now=NOW)

    assert _persona(who) == Persona.LOYAL_KEEPER


def test_serial_returner_wins_over_bracketer(shirt):
    who = _buyer(shirt)  # every order a bracket of two, and a serial returner

    compute_insights(now=NOW)

    assert _insight(who).brackets == 3
    assert _persona(who) == Persona.SERIAL_RETURNER


# Demo ------------------------------------------------------------------------------


def test_the_demo_shows_serial_returners_and_personas():
    from cms import demo as cms_demo
    from insights import demo
    from insights.queries import persona_distribution, serial_returners
    from returns import demo as returns_demo
    from shop import demo as shop_demo

    shop_demo.seed_demo(orders=600, customers=60)
    cms_demo.seed_demo()
    returns_demo.seed_demo()

    first = demo.seed_demo()
    second = demo.seed_demo()

    assert first["customer insights"] >= 60
    assert first["product fixes"] in (0, 1)
    assert second == {"customer insights": 0, "product fixes": 0}
    personas = {row.persona: row.customers for row in persona_distribution()}
    assert sum(personas.values()) == CustomerInsight.objects.count()
    assert sum(1 for count in personas.values() if count) >= 2
    # The demo's frequent returners top the list; whoever the rule flags is listed.
    top = CustomerInsight.objects.order_by("-return_rate").first()
    assert top.return_rate >= Decimal("0.25")
    assert serial_returners().count() == personas[Persona.SERIAL_RETURNER] >= 1
