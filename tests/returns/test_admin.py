"""The returns team's admin: the queue with its filters, the detail page, the action
views (approve, reject, receive, inspect, resolve, close) calling the services, the
reasons and centres, and that nobody else may act."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.urls import reverse

from loyalty.models import StoreCreditAccount
from returns import services
from returns.models import (
    EventKind,
    FulfilmentCentre,
    ReturnReason,
    ReturnStatus,
)
from tests.factories import CustomerFactory, UserFactory
from tests.returns.portal_setup import centre, default_policy, delivered_order

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def member_of(client, group_name):
    user = UserFactory(username=group_name.replace(" ", "-").lower(), is_staff=True)
    user.groups.add(Group.objects.get(name=group_name))
    client.force_login(user)
    return user


@pytest.fixture
def agent(client):
    return member_of(client, "Returns team")


def file(order, *, key, reason="changed-mind", resolution="store_credit", quantity=1):
    line = order.lines.order_by("pk").first()
    return services.submit_return(
        order=order,
        choices=[
            services.LineChoice(
                order_line_id=line.pk,
                quantity=quantity,
                reason_code=reason,
                resolution=resolution,
                comment="Too small.",
                prevention="A better size chart.",
            )
        ],
        channel="guest",
        idempotency_key=key,
    )


@pytest.fixture
def filed(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    default_policy()
    centre()
    order = delivered_order(CustomerFactory(email="sanne@example.com"))
    return file(order, key="admin-1")


def action(found, slug):
    return reverse("returns_queue:action", args=[found.pk, slug])


def test_the_queue_lists_and_filters_returns(client, agent, filed):
    listing = client.get(reverse("returns_queue:list"))
    approved = client.get(reverse("returns_queue:list"), {"status": "approved"})
    rejected = client.get(reverse("returns_queue:list"), {"status": "rejected"})
    held = client.get(reverse("returns_queue:list"), {"needs_approval": "true"})
    today = filed.created_at.date().isoformat()
    by_date = client.get(
        reverse("returns_queue:list"),
        {"created_at_after": today, "created_at_before": today},
    )

    assert listing.status_code == 200
    assert filed.rma in listing.content.decode()
    assert filed.rma in approved.content.decode()
    assert filed.rma not in rejected.content.decode()
    assert filed.rma not in held.content.decode()
    assert filed.rma in by_date.content.decode()


def test_the_detail_page_shows_lines_feedback_costs_and_events(client, agent, filed):
    response = client.get(reverse("returns_queue:inspect", args=[filed.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Linen shirt 1" in html
    assert "Too small." in html
    assert "A better size chart." in html
    assert "Changed my mind" in html
    assert "Policy applied" in html
    assert "Event log" in html
    assert action(filed, "receive") in html
    assert action(filed, "approve") not in html  # already approved


def test_receive_inspect_resolve_and_close_through_the_admin(client, agent, filed):
    line = filed.lines.get()

    received = client.post(
        action(filed, "receive"), {f"line-{line.pk}-condition": "as_new"}
    )
    inspected = client.post(
        action(filed, "inspect-items"),
        {
            f"line-{line.pk}-confirmed_reason": "size-fit",
            f"line-{line.pk}-condition": "as_new",
            f"line-{line.pk}-disposition": "restock",
        },
    )
    resolved = client.post(action(filed, "resolve"), {"note": ""})
    closed = client.post(action(filed, "close"), {"note": "done"})

    assert [r.status_code for r in (received, inspected, resolved, closed)] == [302] * 4
    filed.refresh_from_db()
    line.refresh_from_db()
    assert filed.status == ReturnStatus.CLOSED
    assert line.condition == "as_new"
    assert line.confirmed_reason.code == "size-fit"
    assert line.disposition == "restock"
    assert list(filed.events.values_list("kind", flat=True)) == [
        EventKind.REQUESTED,
        EventKind.APPROVED,
        EventKind.RECEIVED,
        EventKind.INSPECTED,
        EventKind.RESOLVED,
        EventKind.CLOSED,
    ]
    assert filed.events.get(kind=EventKind.RECEIVED).by == agent
    credit = StoreCreditAccount.objects.get(customer=filed.customer)
    assert credit.balance == Decimal("44.00")  # 40.00 + 10 percent bonus


def test_a_held_return_is_approved_or_rejected_with_a_reason(client, agent, filed):
    big = delivered_order(
        CustomerFactory(email="bob@example.com"),
        number="RW-BIG",
        price="900.00",
        sku="SOFA",
    )
    held = file(big, key="admin-2", resolution="refund")
    other = file(big, key="admin-3", resolution="refund", quantity=1)
    assert held.needs_approval and held.status == ReturnStatus.REQUESTED

    client.post(action(held, "approve"), {"note": "Fine."})
    refused = client.post(action(other, "reject"), {"reason": "  "})
    rejected = client.post(action(other, "reject"), {"reason": "Used beyond trial."})

    held.refresh_from_db()
    other.refresh_from_db()
    assert held.status == ReturnStatus.APPROVED
    assert refused.status_code == 400
    assert refused.context["form"].errors == {
        "reason": ["Say why the return is rejected."]
    }
    assert rejected.status_code == 302
    assert other.status == ReturnStatus.REJECTED
    assert other.rejection_reason == "Used beyond trial."


def test_an_illegal_move_is_refused_and_changes_nothing(client, agent, filed):
    response = client.post(action(filed, "close"), {"note": ""})

    filed.refresh_from_db()
    assert filed.status == ReturnStatus.APPROVED
    assert filed.events.count() == 2
    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == [
        "A return that is “Approved” cannot become “Closed”."
    ]


def test_a_bad_condition_is_named_and_changes_nothing(client, agent, filed):
    line = filed.lines.get()

    response = client.post(
        action(filed, "receive"), {f"line-{line.pk}-condition": "shiny"}
    )

    assert response.status_code == 400
    assert f"line-{line.pk}-condition" in response.context["form"].errors
    filed.refresh_from_db()
    assert filed.status == ReturnStatus.APPROVED


@pytest.mark.parametrize("group", ["Editors", "Marketing", "Moderators"])
def test_other_staff_get_403(client, filed, group):
    member_of(client, group)

    for path in (
        reverse("returns_queue:list"),
        reverse("returns_queue:inspect", args=[filed.pk]),
        action(filed, "receive"),
    ):
        assert client.get(path).status_code == 403, path
    assert client.post(action(filed, "close"), {}).status_code == 403
    filed.refresh_from_db()
    assert filed.status == ReturnStatus.APPROVED


def test_the_team_edits_reasons_and_centres(client, agent, filed):
    reason = ReturnReason.objects.get(code="other")
    main = FulfilmentCentre.objects.get()
    main.key_prefix = "ab12cd34"
    main.save()

    reasons = client.get(reverse("returns_reasons:list"))
    centres = client.get(reverse("returns_centres:list"))
    edit = client.get(reverse("returns_reasons:edit", args=[reason.pk]))

    assert reasons.status_code == centres.status_code == edit.status_code == 200
    assert "Niet zoals beschreven" in reasons.content.decode()
    assert "ab12cd34" in centres.content.decode()


def test_the_team_issues_a_centre_token_shown_once(client, agent, filed):
    main = FulfilmentCentre.objects.get()

    page = client.get(reverse("returns_centres:inspect", args=[main.pk]))
    issued = client.post(reverse("returns_centres:new_token", args=[main.pk]))

    main.refresh_from_db()
    key = issued.context["key"]
    assert "Issue a new token" in page.content.decode()
    assert issued.status_code == 200
    assert "no-store" in issued["Cache-Control"]
    assert key in issued.content.decode()
    assert main.key_hash == FulfilmentCentre.hash_key(key)
    assert main.key_prefix == key[:8]
    listing = client.get(reverse("returns_centres:list")).content.decode()
    assert key[:8] in listing
    assert key not in listing


def test_the_team_revokes_a_centre_token(client, agent, filed):
    main, _key = services.create_centre_token(centre=FulfilmentCentre.objects.get())

    page = client.get(reverse("returns_centres:inspect", args=[main.pk]))
    response = client.post(reverse("returns_centres:revoke_token", args=[main.pk]))

    main.refresh_from_db()
    assert "Revoke token" in page.content.decode()
    assert response.status_code == 302
    assert main.revoked_at is not None
    assert not main.has_active_token


def test_other_staff_cannot_touch_centre_tokens(client, filed):
    member_of(client, "Editors")
    main = FulfilmentCentre.objects.get()

    response = client.post(reverse("returns_centres:new_token", args=[main.pk]))

    main.refresh_from_db()
    assert response.status_code == 403
    assert main.key_hash == ""
