"""Schemathesis against /api/v1/schema/: every documented operation, with valid and
invalid generated input, answers without a 5xx and as the schema says (documented
status code, content type and body).

The app is called in-process through its WSGI handler, inside the test's database
transaction. A bounded number of examples per operation keeps the run short; half of
the generated path parameters are swapped for ids that exist (a product with a
review, an order, a coupon, a return routed to the centre), so the deep paths run too.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from loyalty import services as loyalty
from returns import services as returns
from shop.services import create_api_token
from tests.factories import CustomerFactory
from tests.loyalty.conftest import RewardFactory
from tests.returns import core_setup as setup

MAX_EXAMPLES = 25
# No 5xx; status code, content type and body as documented; a request that breaks the
# schema is refused. Not `positive_data_acceptance`: a schema-valid body may still
# break a business rule (a delivery before the order was placed) and get a 400.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


# Loaded when the module is collected: drf-spectacular builds it without the database.
schema = schemathesis.openapi.from_wsgi(
    "/api/v1/schema/?format=json", get_wsgi_application()
)
# Checks left out for one operation, and why.
SKIPPED_CHECKS = {
    # Documented: each order of a batch is validated on its own and a bad one is
    # answered "rejected" in a 200, so a bad item is not a refused request.
    "/api/v1/orders/batch": (negative_data_rejection,),
}


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Like Django's test client: the WSGI handler must not close the connection that
    holds the test's transaction when a request ends."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def world(db):
    """Tokens for the shop and a centre, and one existing thing of every kind."""
    setup.policy()
    centre = setup.centre()
    order = setup.order()
    request = setup.submit(order)
    customer = CustomerFactory()
    loyalty.award_points(customer=customer, points=500, key="k", reason="r")
    coupon = loyalty.redeem(customer=customer, reward=RewardFactory(value=Decimal(5)))
    _token, shop_key = create_api_token(name="schemathesis")
    _centre, centre_key = returns.create_centre_token(centre=centre)
    line = order.lines.select_related("product").first()
    return {
        "shop_key": shop_key,
        "centre_key": centre_key,
        "known": {
            "sku": line.product.sku,
            "external_id": order.external_id,
            "code": coupon.code,
            "rma": request.rma,
        },
    }


@schema.parametrize()
@schema.given(use_known=st.booleans())
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,  # the same cases on every run: a failure reproduces
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)
def test_every_operation_answers_as_documented(case, use_known, world):
    if use_known and case.path_parameters:
        for name in case.path_parameters:
            if name in world["known"]:
                case.path_parameters[name] = world["known"][name]
    key = world["centre_key"] if case.path.endswith("/events") else world["shop_key"]
    skipped = SKIPPED_CHECKS.get(case.path, ())
    checks = [check for check in CHECKS if check not in skipped]
    case.call_and_validate(headers={"Authorization": f"Token {key}"}, checks=checks)
