"""Return submission at the exact moment of a race: the same confirmation twice
files one return; two returns of the last items let one through."""

import pytest

from returns import services
from returns.models import ReturnLine, ReturnRequest
from tests.races.interleave import competitor_at
from tests.returns import core_setup as setup

pytestmark = [
    pytest.mark.races,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def order():
    setup.policy()
    setup.centre()
    return setup.order(quantity=2)


def test_the_same_confirmation_twice_files_one_return(order):
    line = order.lines.get()

    # The second request (a double click) arrives after the first looked for a
    # return with its key and found none, before it created one.
    with competitor_at(
        services,
        "_create_request",
        lambda: setup.submit(order, setup.choice(line, quantity=1), key="k-1"),
    ) as competitor:
        first = setup.submit(order, setup.choice(line, quantity=1), key="k-1")

    assert competitor.outcome == "blocked"  # on the order lines' row locks
    assert competitor.join() == first
    assert list(ReturnRequest.objects.values_list("pk", flat=True)) == [first.pk]
    assert ReturnLine.objects.get().quantity == 1
    assert first.events.filter(kind="requested").count() == 1


def test_two_returns_of_the_last_items_let_one_through(order):
    line = order.lines.get()

    with competitor_at(
        services,
        "_create_request",
        lambda: setup.submit(order, setup.choice(line, quantity=2), key="tab-2"),
    ) as competitor:
        first = setup.submit(order, setup.choice(line, quantity=2), key="tab-1")

    assert competitor.outcome == "blocked"
    with pytest.raises(services.ReturnNotEligible):
        competitor.join()
    assert list(ReturnRequest.objects.values_list("pk", flat=True)) == [first.pk]
    assert ReturnLine.objects.get().quantity == 2
