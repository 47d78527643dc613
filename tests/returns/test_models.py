"""What the database itself guarantees, and the seeded reasons."""

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.utils import translation

from returns.models import (
    ALLOWED_TRANSITIONS,
    FulfilmentCentre,
    ReturnLine,
    ReturnReason,
    ReturnRequest,
    ReturnStatus,
)
from tests.returns import core_setup as setup


def test_the_reasons_are_seeded_with_other_last(db):
    reasons = list(ReturnReason.objects.all())
    assert [r.code for r in reasons] == [
        "not-as-described",
        "size-fit",
        "damaged-in-transit",
        "wrong-item",
        "defective",
        "arrived-too-late",
        "changed-mind",
        "better-price",
        "no-longer-needed",
        "ordered-several",
        "other",
    ]
    controllable = {r.code for r in reasons if r.controllable}
    assert controllable == {
        "not-as-described",
        "size-fit",
        "damaged-in-transit",
        "wrong-item",
        "defective",
        "arrived-too-late",
    }
    fix_areas = {r.code: r.fix_area for r in reasons}
    assert fix_areas["size-fit"] == "description"
    assert fix_areas["damaged-in-transit"] == "packaging"
    assert fix_areas["wrong-item"] == "fulfilment"
    assert fix_areas["defective"] == "quality"
    assert fix_areas["arrived-too-late"] == "delivery"
    assert fix_areas["better-price"] == "none"


def test_reason_labels_follow_the_active_language(db):
    reason = ReturnReason.objects.get(code="defective")
    with translation.override("nl"):
        assert reason.label == "Defect"
    with translation.override("en"):
        assert reason.label == "Defective"


def test_the_returns_team_gets_the_returns_permissions(db):
    codenames = set(
        Group.objects.get(name="Returns team").permissions.values_list(
            "codename", flat=True
        )
    )
    assert {
        "view_returnrequest",
        "change_returnrequest",
        "process_returnrequest",
        "add_returnreason",
        "change_fulfilmentcentre",
        "change_returnssettings",
    } <= codenames


def test_only_one_default_centre(db):
    setup.centre()
    with pytest.raises(IntegrityError), transaction.atomic():
        FulfilmentCentre.objects.create(
            name="Second", code="second", address="x", is_default=True
        )


def test_every_status_has_its_transitions():
    assert set(ALLOWED_TRANSITIONS) == set(ReturnStatus.values)
    assert ALLOWED_TRANSITIONS[ReturnStatus.CLOSED] == frozenset()


@pytest.mark.parametrize(
    ("model", "change"),
    [
        (ReturnLine, {"quantity": 0}),
        (ReturnRequest, {"satisfaction_score": 6}),
        (ReturnRequest, {"status": "lost"}),
    ],
)
def test_the_database_refuses_invalid_values(db, model, change):
    setup.policy()
    setup.centre()
    request = setup.submit(setup.order())
    target = request if model is ReturnRequest else request.lines.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        model.objects.filter(pk=target.pk).update(**change)


def test_one_line_per_order_line_per_return(db):
    setup.policy()
    setup.centre()
    request = setup.submit(setup.order())
    line = request.lines.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        ReturnLine.objects.create(
            request=request,
            order_line=line.order_line,
            quantity=1,
            reason=line.reason,
            requested_resolution="refund",
        )
