"""insights services and their edges: overrides, product fixes, the compute command
and tasks, and the beat entry."""

from datetime import date, timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from insights import tasks
from insights.models import CustomerInsight, ProductFix
from insights.services import InsightsError, compute_insights, mark_fixed, set_override
from tests.factories import ProductFactory, UserFactory
from tests.insights.planted import customer

pytestmark = pytest.mark.django_db


def test_set_override_records_who_and_why():
    who = customer()
    staff = UserFactory(is_staff=True)

    row = set_override(customer=who, override="always", reason=" abuse ", by=staff)

    assert (row.override, row.override_reason, row.override_by) == (
        "always",
        "abuse",
        staff,
    )
    assert row.override_at is not None
    assert row.is_serial_returner is True


def test_back_to_as_computed_clears_the_override():
    who = customer()
    set_override(customer=who, override="never", reason="VIP", by=None)

    row = set_override(customer=who, override="", reason="", by=None)

    assert (row.override, row.override_reason, row.override_at) == ("", "", None)


@pytest.mark.parametrize(
    ("override", "reason", "field"),
    [("always", "  ", "reason"), ("sometimes", "x", "override")],
)
def test_set_override_refusals_change_nothing(override, reason, field):
    who = customer()
    compute_insights(customer_ids=[who.pk])
    before = list(CustomerInsight.objects.values())

    with pytest.raises(InsightsError) as refused:
        set_override(customer=who, override=override, reason=reason, by=None)

    assert refused.value.field == field
    assert list(CustomerInsight.objects.values()) == before


def test_mark_fixed():
    product = ProductFactory()
    staff = UserFactory(is_staff=True)

    fix = mark_fixed(
        product=product,
        fixed_on=date(2026, 1, 5),
        area="packaging",
        note=" Stronger box ",
        by=staff,
    )

    assert (fix.product, fix.fixed_on, fix.area, fix.note, fix.by) == (
        product,
        date(2026, 1, 5),
        "packaging",
        "Stronger box",
        staff,
    )


@pytest.mark.parametrize(
    ("area", "days_ahead", "field"),
    [("none", 0, "area"), ("colour", 0, "area"), ("packaging", 1, "fixed_on")],
)
def test_mark_fixed_refusals(area, days_ahead, field):
    with pytest.raises(InsightsError) as refused:
        mark_fixed(
            product=ProductFactory(),
            fixed_on=timezone.localdate() + timedelta(days=days_ahead),
            area=area,
            note="",
            by=None,
        )

    assert refused.value.field == field
    assert ProductFix.objects.count() == 0


def test_compute_insights_command():
    customer()
    customer()
    out = StringIO()

    call_command("compute_insights", stdout=out)

    assert out.getvalue().strip() == (
        "Computed 2 customer(s), 2 changed; 0 serial returner(s)."
    )
    out = StringIO()
    call_command("compute_insights", stdout=out)
    assert "Computed 2 customer(s), 0 changed;" in out.getvalue()


def test_tasks():
    who = customer()

    assert tasks.compute_insights_task() == {
        "customers": 1,
        "changed": 1,
        "serial_returners": 0,
    }
    assert tasks.compute_customer_insights_task(who.pk) == {"customers": 1}


def test_beat_recomputes_nightly():
    entry = settings.CELERY_BEAT_SCHEDULE["compute-insights"]

    assert entry["task"] == "insights.tasks.compute_insights_task"
    assert tasks.compute_insights_task.name == entry["task"]
