"""Quoting and filing returns: costs and who pays, returnless refunds, fees that
follow fault, approval rules, photos, ownership and double submits."""

import io
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone
from PIL import Image

from returns import services
from returns.models import (
    Channel,
    EventKind,
    Payer,
    ReturnEvent,
    ReturnLine,
    ReturnPhoto,
    ReturnRequest,
    ReturnStatus,
)
from tests.factories import CategoryFactory, CustomerFactory, UserFactory
from tests.returns import core_setup as setup


@pytest.fixture
def policy(db):
    return setup.policy()


@pytest.fixture
def centre(db):
    return setup.centre()


def _quote(order, *choices, **kwargs):
    return services.quote_return(order=order, choices=list(choices), **kwargs)


# Quotes -------------------------------------------------------------------------------


def test_change_of_mind_refund_customer_pays_the_label(policy, centre):
    order = setup.order(price="40.00")
    line = order.lines.get()

    quote = _quote(order, setup.choice(line, quantity=2))

    [item] = quote.lines
    assert (item.value, item.restocking_fee, item.refund_amount) == (
        Decimal("80.00"),
        Decimal("0.00"),
        Decimal("80.00"),
    )
    assert item.returnless is False
    assert item.shop_at_fault is False
    # label 4.95 (policy) + 12 minutes at 30.00/h
    assert item.estimated_cost == Decimal("10.95")
    assert (quote.shipping_paid_by, quote.shipping_cost) == (
        Payer.CUSTOMER,
        Decimal("4.95"),
    )
    assert quote.estimated_cost == Decimal("10.95")
    assert quote.explanations == [
        "Return shipping costs you EUR 4.95, because the reason is not a fault of ours."
    ]


def test_the_centre_tariff_replaces_the_policy_label_cost_in_the_estimate(policy):
    setup.centre(return_shipping_cost=Decimal("7.50"))
    order = setup.order()
    quote = _quote(order, setup.choice(order.lines.get()))
    assert quote.lines[0].estimated_cost == Decimal("13.50")
    assert quote.label_cost == Decimal("7.50")


def test_shop_at_fault_waives_shipping_and_restocking_fee(centre):
    setup.policy(restocking_fee_percent=Decimal("10"))
    order = setup.order(price="40.00")
    line = order.lines.get()

    stated_fault = _quote(order, setup.choice(line, reason="defective"))
    changed_mind = _quote(order, setup.choice(line, reason="changed-mind"))

    assert stated_fault.lines[0].restocking_fee == Decimal("0.00")
    assert stated_fault.lines[0].refund_amount == Decimal("40.00")
    assert (stated_fault.shipping_paid_by, stated_fault.shipping_cost) == (
        Payer.SHOP,
        Decimal("0.00"),
    )
    assert stated_fault.explanations == [
        "Return shipping is free: the reason is our fault."
    ]
    assert stated_fault.lines[0].explanations == [
        "No restocking fee: the reason is our fault. If the inspection finds "
        "otherwise, the usual fee of 10 percent applies."
    ]
    assert changed_mind.lines[0].restocking_fee == Decimal("4.00")
    assert changed_mind.lines[0].refund_amount == Decimal("36.00")
    assert changed_mind.lines[0].explanations == [
        "A restocking fee of EUR 4.00 (10 percent) applies because the reason is "
        "not a fault of ours."
    ]


def test_store_credit_adds_the_policy_bonus_after_the_fee(centre):
    setup.policy(restocking_fee_percent=Decimal("10"))
    order = setup.order(price="40.00")
    quote = _quote(order, setup.choice(order.lines.get(), resolution="store_credit"))
    # (40.00 − 4.00) × 1.10
    assert quote.lines[0].store_credit_amount == Decimal("39.60")
    assert quote.lines[0].refund_amount == Decimal("0.00")
    assert quote.store_credit_total == Decimal("39.60")


def test_exchange_carries_no_fee_and_no_money(centre):
    setup.policy(restocking_fee_percent=Decimal("10"))
    order = setup.order()
    quote = _quote(order, setup.choice(order.lines.get(), resolution="exchange"))
    item = quote.lines[0]
    assert (item.restocking_fee, item.refund_amount, item.store_credit_amount) == (
        Decimal("0.00"),
        Decimal("0.00"),
        Decimal("0.00"),
    )


@pytest.mark.parametrize(
    ("rules", "price", "returnless"),
    [
        # cheap enough to keep: worth at most 10.00
        ({"returnless_max_item_value": Decimal("10.00")}, "9.99", True),
        ({"returnless_max_item_value": Decimal("10.00")}, "10.00", True),
        ({"returnless_max_item_value": Decimal("10.00")}, "10.01", False),
        # returning costs 10.95: at least 50 percent of 21.90, not of 21.91
        ({"returnless_min_cost_ratio": Decimal("50")}, "21.90", True),
        ({"returnless_min_cost_ratio": Decimal("50")}, "21.91", False),
        ({}, "1.00", False),
    ],
)
def test_returnless_rule_both_ways(centre, rules, price, returnless):
    setup.policy(**rules)
    order = setup.order(price=price, quantity=1)
    quote = _quote(order, setup.choice(order.lines.get()))
    assert quote.lines[0].returnless is returnless
    assert quote.needs_shipping is not returnless
    if returnless:
        assert quote.shipping_paid_by == Payer.NONE
        assert quote.shipping_cost == Decimal("0.00")
        assert (
            quote.lines[0]
            .explanations[0]
            .startswith("Keep the item: sending it back would cost about EUR 10.95")
        )
        assert quote.explanations == ["Nothing needs to be sent back."]


def test_returnless_is_not_offered_for_an_exchange(centre):
    setup.policy(returnless_max_item_value=Decimal("100.00"))
    order = setup.order(price="5.00", quantity=1)
    quote = _quote(order, setup.choice(order.lines.get(), resolution="exchange"))
    assert quote.lines[0].returnless is False


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"quantity": 3}, "lines.0.quantity", "Choose a quantity from 1 to 2."),
        ({"quantity": 0}, "lines.0.quantity", "Choose a quantity from 1 to 2."),
        ({"reason": "no-such"}, "lines.0.reason", "Choose a reason from the list."),
        (
            {"resolution": "repair"},
            "lines.0.resolution",
            "This item's policy does not offer that. Choose one of: Refund, "
            "Exchange, Store credit.",
        ),
    ],
)
def test_bad_choices_name_the_line_and_field(policy, centre, change, field, message):
    order = setup.order()
    with pytest.raises(services.ReturnNotEligible) as refused:
        _quote(order, setup.choice(order.lines.get(), **change))
    assert (refused.value.field, refused.value.message) == (field, message)


def test_a_line_of_another_order_is_refused(policy, centre):
    order, other = setup.order(), setup.order()
    with pytest.raises(services.ReturnNotEligible) as refused:
        _quote(order, setup.choice(other.lines.get()))
    assert refused.value.field == "lines.0.order_line"
    assert refused.value.message == "This item is not part of the order."


def test_a_retired_reason_is_not_offered(policy, centre):
    from returns.models import ReturnReason

    ReturnReason.objects.filter(code="better-price").update(active=False)
    order = setup.order()
    with pytest.raises(services.ReturnNotEligible):
        _quote(order, setup.choice(order.lines.get(), reason="better-price"))


def test_quote_queries_do_not_grow_with_lines(
    policy, centre, django_assert_max_num_queries
):
    for lines in (1, 50):
        order = setup.order(lines=lines)
        choices = [setup.choice(line) for line in order.lines.all()]
        with django_assert_max_num_queries(9):
            quote = _quote(order, *choices)
        assert len(quote.lines) == lines


# Filing -------------------------------------------------------------------------------


def test_submit_records_the_return_routes_it_and_approves_it(policy):
    clothing = CategoryFactory(name="Clothing")
    default = setup.centre()
    clothes_centre = setup.centre(name="Clothes 3PL", code="clothes", is_default=False)
    clothes_centre.categories.add(clothing)
    order = setup.order(category=clothing)
    line = order.lines.get()

    request = setup.submit(
        order,
        setup.choice(
            line, quantity=2, comment=" Too small ", prevention="A size chart"
        ),
    )

    assert request.rma.startswith("R-") and len(request.rma) == 11
    assert request.centre == clothes_centre != default
    assert request.status == ReturnStatus.APPROVED
    assert request.needs_approval is False
    assert request.channel == Channel.ACCOUNT
    assert (request.shipping_cost, request.shipping_paid_by, request.handling_cost) == (
        Decimal("4.95"),
        Payer.CUSTOMER,
        Decimal("6.00"),
    )
    [saved] = request.lines.all()
    assert (saved.quantity, saved.comment, saved.prevention) == (
        2,
        "Too small",
        "A size chart",
    )
    assert saved.policy["window_days"] == 30
    assert saved.refund_amount == Decimal("80.00")
    assert list(request.events.values_list("kind", "from_status", "to_status")) == [
        (EventKind.REQUESTED, "", ReturnStatus.REQUESTED),
        (EventKind.APPROVED, ReturnStatus.REQUESTED, ReturnStatus.APPROVED),
    ]


def test_without_a_category_centre_the_default_takes_it(policy, centre):
    order = setup.order()
    assert setup.submit(order).centre == centre


def test_high_value_returns_wait_for_approval(policy, centre):
    setup.settings(manual_approval_above=Decimal("500.00"))
    order = setup.order(price="300.00")

    request = setup.submit(order, setup.choice(order.lines.get(), quantity=2))

    assert request.status == ReturnStatus.REQUESTED
    assert (request.needs_approval, request.approval_reasons) == (
        True,
        ["high_value"],
    )


def test_staff_exception_outside_the_window_waits_for_approval(policy, centre):
    order = setup.order(delivered_at=timezone.now() - timedelta(days=60))
    staff = UserFactory(is_staff=True)

    request = setup.submit(order, by_user=staff, window_exception=True)

    assert request.status == ReturnStatus.REQUESTED
    assert request.window_exception is True
    assert request.approval_reasons == ["outside_window"]
    assert request.channel == Channel.STAFF
    assert request.events.get().actor == "staff"


def test_customers_cannot_file_outside_the_window(policy, centre):
    order = setup.order(delivered_at=timezone.now() - timedelta(days=60))
    with pytest.raises(services.ReturnNotEligible) as refused:
        setup.submit(order)
    assert refused.value.message.startswith("The 30-day return window closed on")
    with pytest.raises(services.ReturnNotEligible):
        setup.submit(order, by_user=UserFactory(), window_exception=True)
    assert ReturnRequest.objects.count() == 0


def test_registered_approval_checks_can_hold_a_return(policy, centre, monkeypatch):
    monkeypatch.setattr(services, "APPROVAL_CHECKS", list(services.APPROVAL_CHECKS))
    services.register_approval_check(lambda request: "serial_returner")

    request = setup.submit(setup.order())

    assert request.status == ReturnStatus.REQUESTED
    assert request.approval_reasons == ["serial_returner"]


def test_a_customer_cannot_file_a_return_on_someone_else_s_order(policy, centre):
    owner, stranger = UserFactory(), UserFactory()
    order = setup.order(customer=CustomerFactory(user=owner))

    with pytest.raises(services.NotYourReturn):
        setup.submit(order, by_user=stranger)

    assert ReturnRequest.objects.count() == 0
    assert setup.submit(order, by_user=owner).customer == order.customer


def test_the_same_key_twice_gives_one_return(policy, centre):
    order = setup.order()
    first = setup.submit(order, key="form-1")
    second = setup.submit(order, key="form-1")
    assert first.pk == second.pk
    assert ReturnRequest.objects.count() == 1
    assert ReturnLine.objects.count() == 1
    assert ReturnEvent.objects.count() == 2


def test_photos_are_checked_by_decoding(policy, centre, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    order = setup.order()
    line = order.lines.get()
    fake = SimpleUploadedFile("damage.jpg", b"not an image", content_type="image/jpeg")
    with pytest.raises(services.ReturnNotEligible) as refused:
        setup.submit(order, setup.choice(line, reason="defective", photo=fake))
    assert refused.value.field == "lines.0.photo"
    assert refused.value.message == (
        "This file is not an image. Upload a JPEG, PNG or WebP photo."
    )
    assert ReturnRequest.objects.count() == 0

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buffer, "PNG")
    photo = SimpleUploadedFile(
        "damage.png", buffer.getvalue(), content_type="image/png"
    )
    request = setup.submit(order, setup.choice(line, reason="defective", photo=photo))
    [saved] = ReturnPhoto.objects.filter(line__request=request)
    assert saved.image.name.startswith("returns/photos/")


def test_two_returns_cannot_return_more_than_was_bought(policy, centre):
    order = setup.order(quantity=2)
    line = order.lines.get()
    setup.submit(order, setup.choice(line, quantity=2))
    with pytest.raises(services.ReturnNotEligible):
        setup.submit(order, setup.choice(line, quantity=1))
    assert ReturnRequest.objects.count() == 1


# Concurrency (PostgreSQL) ----------------------------------------------------------------


def _race(target, count=2):
    barrier = threading.Barrier(count)
    results, errors = [], []

    def run(n):
        try:
            barrier.wait(timeout=10)
            results.append(target(n))
        except Exception as exc:  # noqa: BLE001  (collected for the assertions)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results, errors


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_double_submit_gives_one_return(needs_postgres):
    setup.policy()
    setup.centre()
    order = setup.order()
    line_id = order.lines.get().pk

    results, errors = _race(
        lambda n: (
            setup.submit(
                order,
                services.LineChoice(line_id, 1, "changed-mind", "refund"),
                key="k",
            ).pk
        )
    )

    assert errors == []
    assert len(set(results)) == 1
    assert ReturnRequest.objects.count() == 1
    assert ReturnLine.objects.count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_returns_of_the_last_items_let_one_through(needs_postgres):
    setup.policy()
    setup.centre()
    order = setup.order(quantity=2)
    line_id = order.lines.get().pk

    results, errors = _race(
        lambda n: (
            setup.submit(
                order,
                services.LineChoice(line_id, 2, "changed-mind", "refund"),
                key=f"k{n}",
            ).pk
        )
    )

    assert len(results) == 1
    assert [type(e) for e in errors] == [services.ReturnNotEligible]
    assert ReturnLine.objects.get().quantity == 2
