"""The state machine: every allowed move works and writes its event; every other
move is refused and changes nothing."""

from decimal import Decimal

import pytest

from returns import services
from returns.models import ALLOWED_TRANSITIONS, Condition, ReturnEvent, ReturnStatus
from tests.factories import CustomerFactory, UserFactory
from tests.returns import core_setup as setup

S = ReturnStatus

SERVICE_FOR = {
    S.APPROVED: lambda r, by: services.approve(request=r, by=by),
    S.REJECTED: lambda r, by: services.reject(request=r, reason="Worn", by=by),
    S.IN_TRANSIT: lambda r, by: services.mark_in_transit(request=r),
    S.RECEIVED: lambda r, by: services.receive(request=r, by=by),
    S.INSPECTED: lambda r, by: services.inspect(request=r, findings={}, by=by),
    S.RESOLVED: lambda r, by: services.resolve(request=r, by=by),
    S.CLOSED: lambda r, by: services.close(request=r, by=by),
    S.CANCELLED: lambda r, by: services.cancel(request=r, by=by),
}
TARGETS = list(SERVICE_FOR)
ILLEGAL = [
    (source, target)
    for source in S.values
    for target in TARGETS
    if target not in ALLOWED_TRANSITIONS[source]
]
LEGAL = [
    (source, target)
    for source in S.values
    for target in TARGETS
    if target in ALLOWED_TRANSITIONS[source]
    # approved → resolved only for returnless returns: tested on its own below
    and (source, target) != (S.APPROVED, S.RESOLVED)
]


@pytest.fixture
def staff(db):
    return UserFactory(is_staff=True)


@pytest.fixture
def request_in(db):
    setup.policy()
    setup.centre()

    def make(status):
        made = setup.submit(setup.order())
        type(made).objects.filter(pk=made.pk).update(status=status)
        made.refresh_from_db()
        return made

    return make


def test_the_matrix_covers_every_pair():
    assert len(ILLEGAL) + len(LEGAL) + 1 == len(S.values) * len(TARGETS)


@pytest.mark.parametrize(("source", "target"), ILLEGAL)
def test_illegal_transitions_are_refused_and_change_nothing(
    request_in, staff, source, target
):
    request = request_in(source)
    events = ReturnEvent.objects.count()

    with pytest.raises(services.IllegalTransition) as refused:
        SERVICE_FOR[target](request, staff)

    request.refresh_from_db()
    assert request.status == source
    assert ReturnEvent.objects.count() == events
    assert refused.value.field == "status"


@pytest.mark.parametrize(("source", "target"), LEGAL)
def test_allowed_transitions_move_and_write_one_event(
    request_in, staff, source, target
):
    request = request_in(source)
    events = ReturnEvent.objects.count()

    SERVICE_FOR[target](request, staff)

    request.refresh_from_db()
    assert request.status == target
    assert ReturnEvent.objects.count() == events + 1
    event = request.events.last()
    assert (event.from_status, event.to_status) == (source, target)


def test_an_approved_return_with_items_to_send_back_cannot_skip_to_resolved(
    request_in, staff
):
    request = request_in(S.APPROVED)
    with pytest.raises(services.IllegalTransition):
        services.resolve(request=request, by=staff)
    request.refresh_from_db()
    assert request.status == S.APPROVED


def test_a_returnless_return_resolves_straight_from_approved(staff):
    setup.policy(returnless_max_item_value=Decimal("50.00"))
    setup.centre()
    request = setup.submit(setup.order(price="5.00"))
    assert request.status == S.APPROVED

    services.resolve(request=request, by=staff)

    request.refresh_from_db()
    assert request.status == S.RESOLVED
    assert request.lines.get().disposition == "keep"


def test_reject_needs_a_reason_and_tells_it(request_in, staff):
    request = request_in(S.REQUESTED)
    with pytest.raises(services.ReturnsError) as refused:
        services.reject(request=request, reason="  ", by=staff)
    assert refused.value.field == "reason"
    services.reject(request=request, reason="Bought 14 months ago.", by=staff)
    request.refresh_from_db()
    assert request.rejection_reason == "Bought 14 months ago."


def test_receive_records_conditions_and_rejects_unknown_lines(request_in, staff):
    request = request_in(S.APPROVED)
    line = request.lines.get()
    with pytest.raises(services.ReturnsError):
        services.receive(request=request, conditions={line.pk + 999: "as_new"})
    with pytest.raises(services.ReturnsError):
        services.receive(request=request, conditions={line.pk: "shiny"})
    request.refresh_from_db()
    assert request.status == S.APPROVED

    services.receive(request=request, conditions={line.pk: Condition.OPENED}, by=staff)

    line.refresh_from_db()
    assert line.condition == Condition.OPENED
    assert request.events.last().actor == "staff"


def test_a_customer_cannot_cancel_another_customer_s_return(request_in):
    owner, stranger = UserFactory(), UserFactory()
    request = request_in(S.APPROVED)
    request.customer.user = owner
    request.customer.save()

    with pytest.raises(services.NotYourReturn):
        services.cancel(request=request, by=stranger)
    request.refresh_from_db()
    assert request.status == S.APPROVED

    services.cancel(request=request, by=owner)
    request.refresh_from_db()
    assert request.status == S.CANCELLED
    assert request.events.last().actor == "customer"


def test_the_full_happy_path_leaves_an_audit_trail(staff):
    setup.policy()
    setup.centre()
    request = setup.submit(setup.order(customer=CustomerFactory()))
    setup.walk_to(request, S.CLOSED, by=staff)
    assert list(request.events.values_list("to_status", flat=True)) == [
        S.REQUESTED,
        S.APPROVED,
        S.IN_TRANSIT,
        S.RECEIVED,
        S.INSPECTED,
        S.RESOLVED,
        S.CLOSED,
    ]
