"""Executing resolutions: refund amounts in the shop webhook, store credit through
loyalty with the policy's bonus, exchange and repair requests, fees by the confirmed
reason, the costs each return records, and paying exactly once."""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from loyalty.models import StoreCreditAccount, StoreCreditEntry
from returns import services
from returns.models import Disposition, Payer, ReturnStatus, ShopWebhook
from tests.factories import UserFactory
from tests.returns import core_setup as setup

S = ReturnStatus


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True)


@pytest.fixture
def shop(db):
    setup.settings(
        shop_webhook_url="http://127.0.0.1:9/hooks", shop_webhook_secret="s3cret"
    )
    setup.centre()


def _inspected(order, *choices, findings=None, by=None):
    request = setup.submit(order, *choices)
    services.receive(request=request, by=by)
    services.inspect(request=request, findings=findings or {}, by=by)
    return request


def test_refund_pays_price_times_quantity_minus_fee_in_the_shop_webhook(shop, staff):
    setup.policy(restocking_fee_percent=Decimal("10"))
    order = setup.order(price="40.00", quantity=3)
    line = order.lines.get()
    request = _inspected(order, setup.choice(line, quantity=2), by=staff)

    services.resolve(request=request, by=staff)

    request.refresh_from_db()
    assert request.status == S.RESOLVED
    assert (request.refund_total, request.restocking_fee_total) == (
        Decimal("72.00"),
        Decimal("8.00"),
    )
    webhook = ShopWebhook.objects.get(event="return.resolved")
    assert webhook.key == f"return.resolved:{request.rma}"
    assert webhook.payload["refund_amount"] == "72.00"
    assert webhook.payload["restocking_fee"] == "8.00"
    assert webhook.payload["customer_pays_shipping"] is True
    assert webhook.payload["lines"][0]["refund_amount"] == "72.00"
    assert webhook.payload["order"]["number"] == order.number


def test_store_credit_is_credited_through_loyalty_with_the_bonus(shop, staff):
    setup.policy(store_credit_bonus_percent=Decimal("15"))
    order = setup.order(price="40.00", quantity=1)
    line = order.lines.get()
    request = _inspected(order, setup.choice(line, resolution="store_credit"))

    services.resolve(request=request, by=staff)

    entry = StoreCreditEntry.objects.get()
    assert entry.amount == Decimal("46.00")
    assert entry.key == f"return:{request.rma}:{request.lines.get().pk}"
    assert StoreCreditAccount.objects.get(customer=order.customer).balance == Decimal(
        "46.00"
    )
    request.refresh_from_db()
    assert (request.store_credit_total, request.refund_total) == (
        Decimal("46.00"),
        Decimal("0.00"),
    )


def test_resolving_twice_pays_once(shop, staff):
    setup.policy()
    order = setup.order(lines=2, quantity=1)
    first, second = order.lines.all()
    request = _inspected(
        order,
        setup.choice(first, resolution="refund"),
        setup.choice(second, resolution="store_credit"),
    )
    services.resolve(request=request, by=staff)

    with pytest.raises(services.IllegalTransition):
        services.resolve(request=request, by=staff)

    assert ShopWebhook.objects.filter(event="return.resolved").count() == 1
    assert StoreCreditEntry.objects.count() == 1
    assert request.events.filter(to_status=S.RESOLVED).count() == 1


def test_exchange_and_repair_become_requests_to_the_shop(shop, staff):
    setup.policy(offers_repair=True)
    order = setup.order(lines=2, quantity=1)
    first, second = order.lines.all()
    request = _inspected(
        order,
        setup.choice(first, reason="size-fit", resolution="exchange"),
        setup.choice(second, reason="defective", resolution="repair"),
    )

    services.resolve(request=request, by=staff)

    exchange = ShopWebhook.objects.get(event="return.exchange_requested")
    repair = ShopWebhook.objects.get(event="return.repair_requested")
    assert exchange.payload["line"]["sku"] == first.product.sku
    assert repair.payload["line"]["sku"] == second.product.sku
    request.refresh_from_db()
    assert request.refund_total == Decimal("0.00")


def test_staff_may_switch_to_another_resolution_the_policy_offers(shop, staff):
    setup.policy()
    order = setup.order(quantity=1)
    request = _inspected(order, setup.choice(order.lines.get()))
    line = request.lines.get()

    with pytest.raises(services.ReturnsError):
        services.resolve(request=request, by=staff, resolutions={line.pk: "repair"})
    services.resolve(request=request, by=staff, resolutions={line.pk: "store_credit"})

    line.refresh_from_db()
    assert (line.requested_resolution, line.resolution) == ("refund", "store_credit")
    assert StoreCreditEntry.objects.get().amount == Decimal("44.00")


@pytest.mark.parametrize(
    ("stated", "confirmed", "fee", "payer"),
    [
        # the customer said defective, the inspector found nothing wrong: fee applies
        ("defective", "changed-mind", Decimal("4.00"), Payer.CUSTOMER),
        # the customer said changed mind, the inspector found a defect: no fee
        ("changed-mind", "defective", Decimal("0.00"), Payer.SHOP),
        # no confirmed reason: the stated one stands
        ("defective", None, Decimal("0.00"), Payer.SHOP),
        ("changed-mind", None, Decimal("4.00"), Payer.CUSTOMER),
    ],
)
def test_fees_follow_the_confirmed_reason(shop, staff, stated, confirmed, fee, payer):
    setup.policy(restocking_fee_percent=Decimal("10"))
    order = setup.order(price="40.00", quantity=1)
    request = setup.submit(order, setup.choice(order.lines.get(), reason=stated))
    line = request.lines.get()
    services.receive(request=request, by=staff)
    finding = {"confirmed_reason": confirmed} if confirmed else {}
    services.inspect(request=request, findings={line.pk: finding}, by=staff)

    services.resolve(request=request, by=staff)

    line.refresh_from_db()
    request.refresh_from_db()
    assert line.restocking_fee == fee
    assert line.refund_amount == Decimal("40.00") - fee
    assert request.shipping_paid_by == payer
    assert request.shipping_charge == (
        Decimal("4.95") if payer == Payer.CUSTOMER else Decimal("0.00")
    )
    webhook = ShopWebhook.objects.get(event="return.resolved")
    assert webhook.payload["shipping_charge"] == str(request.shipping_charge)
    assert line.effective_reason.code == (confirmed or stated)


@pytest.mark.parametrize(
    ("disposition", "recovered"),
    [
        (Disposition.RESTOCK, Decimal("80.00")),
        (Disposition.REFURBISH, Decimal("40.00")),
        (Disposition.RECYCLE, Decimal("0.00")),
        (Disposition.DISPOSE, Decimal("0.00")),
    ],
)
def test_value_recovered_follows_the_disposition(shop, staff, disposition, recovered):
    setup.policy()
    setup.settings(refurbish_recovery_percent=Decimal("50"))
    order = setup.order(price="40.00", quantity=2)
    request = setup.submit(order, setup.choice(order.lines.get(), quantity=2))
    line = request.lines.get()
    services.receive(request=request, by=staff)
    services.inspect(
        request=request, findings={line.pk: {"disposition": disposition}}, by=staff
    )
    services.resolve(request=request, by=staff)

    request.refresh_from_db()
    line.refresh_from_db()
    assert line.value_recovered == recovered
    assert request.value_recovered == recovered


def test_each_return_records_its_actual_costs(shop, staff):
    setup.policy()
    setup.settings(handling_minutes=20, hourly_rate=Decimal("36.00"))
    order = setup.order(price="40.00", quantity=1)
    request = _inspected(order, setup.choice(order.lines.get()), by=staff)
    services.resolve(request=request, by=staff)
    request.refresh_from_db()
    assert (
        request.shipping_cost,
        request.shipping_paid_by,
        request.handling_cost,
        request.refund_total,
        request.restocking_fee_total,
    ) == (
        Decimal("4.95"),
        Payer.CUSTOMER,
        Decimal("12.00"),
        Decimal("40.00"),
        Decimal("0.00"),
    )
    assert request.resolved_at is not None


def test_without_a_shop_address_no_webhook_rows_are_written(staff):
    setup.centre()
    setup.policy()
    order = setup.order(quantity=1)
    request = _inspected(order, setup.choice(order.lines.get()), by=staff)
    services.resolve(request=request, by=staff)
    assert ShopWebhook.objects.count() == 0


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_resolves_pay_once(needs_postgres):
    setup.settings(shop_webhook_url="http://127.0.0.1:9/", shop_webhook_secret="s")
    setup.centre()
    setup.policy()
    order = setup.order(lines=2, quantity=1)
    first, second = order.lines.all()
    request = _inspected(
        order,
        setup.choice(first, resolution="refund"),
        setup.choice(second, resolution="store_credit"),
    )
    barrier = threading.Barrier(2)
    outcomes = []

    def run():
        try:
            barrier.wait(timeout=10)
            services.resolve(request=type(request).objects.get(pk=request.pk))
            outcomes.append("resolved")
        except services.IllegalTransition:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["refused", "resolved"]
    assert ShopWebhook.objects.filter(event="return.resolved").count() == 1
    assert StoreCreditEntry.objects.count() == 1
