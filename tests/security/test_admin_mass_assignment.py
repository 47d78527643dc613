"""Mass assignment and CSRF on our own Wagtail admin screens: campaigns, the returns
team's actions, review moderation.

The threat. A staff member (or a script holding a staff session) posts the admin's
forms with fields the screen never offers: a campaign's status, `activated_at` or
`created_by`; a return's refund total, customer or resolution, or a line id of
another customer's return; a review's rating, body or points. Or another site makes
a staff member's browser post one of these forms (CSRF). Each form must store
exactly what its visible fields say, through the service it calls, and nothing
else.

How the tests prove it. Where possible, two identical records ("twins") are
posted: one with the honest form, one with the honest form plus the extras. The
twin that was attacked must be stored exactly as the honest one (apart from its
identity), so any extra that was honoured shows up as a difference; each extra is
chosen so that it would differ. A third record, the victim the extras point at, must
not change at all. Superusers post, so no permission hides a hole in a form.

The CSRF tests post each state-changing screen as the staff member would: refused
(403) without the token even though the CSRF cookie is there, as a forged
cross-site post would be, and nothing changes; the same post with the token read
from the screen's own page goes through, so the refusal is the CSRF check."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db.models import Model
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from wagtail.fields import StreamField

from campaigns.models import (
    Campaign,
    CampaignContent,
    CampaignEvent,
    CampaignStatus,
    CampaignVariant,
)
from emails.models import Message
from loyalty.models import PointsEntry, StoreCreditEntry
from returns import services as return_services
from returns.models import FulfilmentCentre, ReturnLine, ReturnRequest, ReturnStatus
from reviews import services as review_services
from reviews.models import Review, ReviewSettings, ReviewStatus
from tests.campaigns.admin_setup import form_data
from tests.campaigns.admin_setup import url as campaign_url
from tests.factories import CustomerFactory, OrderFactory, UserFactory
from tests.returns.portal_setup import centre, default_policy, delivered_order
from tests.reviews.core_helpers import GOOD_BODY, delivered_line, submit

pytestmark = pytest.mark.django_db

LONG_AGO = "2001-02-03 04:05:06"


# Rows as stored ---------------------------------------------------------------------


def _columns(model: type[Model]) -> list[str]:
    """Every stored column but StreamFields (their values do not compare by value)."""
    return [
        field.attname
        for field in model._meta.concrete_fields
        if not isinstance(field, StreamField)
    ]


def _rows(queryset) -> list[dict]:
    return list(queryset.order_by("pk").values(*_columns(queryset.model)))


def _row(obj: Model) -> dict:
    return _rows(type(obj).objects.filter(pk=obj.pk))[0]


def _as_twin(values: dict, *, identity: set[str]) -> dict:
    """A row without the columns that tell twins apart, and a timestamp of this
    test run as "just now": an extra like `resolved_at=2001-…` still stands out."""
    recent = timezone.now() - timedelta(minutes=5)
    return {
        name: "just now" if isinstance(value, datetime) and value > recent else value
        for name, value in values.items()
        if name not in identity
    }


def _changed_nothing(snapshot: Callable[[], object]) -> Callable[[], None]:
    """Take `snapshot()` now; the returned check asserts it is still the same."""
    before = snapshot()

    def check() -> None:
        assert snapshot() == before

    return check


@pytest.fixture
def someone():
    """Another member of staff, whom the extras try to credit or blame."""
    return UserFactory(username="someone-else", is_staff=True)


# Campaigns ------------------------------------------------------------------------------

CONTENT = {"language": "en", "variant_code": "", "subject": "How is your order?"}
VARIANT = {
    "code": "B",
    "name": "Most helpful",
    "weight": "1",
    "review_selection": "most_helpful",
}


def make_campaign(**fields) -> Campaign:
    """A post-purchase campaign with one English content and a variant B."""
    campaign = Campaign.objects.create(
        name="After delivery", kind="post_purchase", **fields
    )
    CampaignContent.objects.create(campaign=campaign, **CONTENT)
    CampaignVariant.objects.create(
        campaign=campaign, code="B", name="Most helpful", review_selection="top_rated"
    )
    return campaign


@pytest.fixture
def victim_campaign():
    """Another campaign, the one the extras point at."""
    campaign = Campaign.objects.create(name="Someone else's", kind="promotion")
    CampaignContent.objects.create(
        campaign=campaign, language="nl", subject="Niet van jou"
    )
    CampaignVariant.objects.create(campaign=campaign, code="C", name="Theirs")
    return campaign


def _campaign_whole(campaign: Campaign) -> dict:
    return {
        "campaign": _row(campaign),
        "contents": _rows(campaign.contents.all()),
        "variants": _rows(campaign.variants.all()),
        "events": _rows(campaign.events.all()),
    }


def _campaign_as_stored(campaign: Campaign) -> dict:
    """The campaign with its inline rows, as twins compare."""
    inline = {"id", "campaign_id"}
    return {
        "campaign": _as_twin(_row(campaign), identity={"id"}),
        "contents": [
            _as_twin(row, identity=inline) for row in _rows(campaign.contents.all())
        ],
        "variants": [
            _as_twin(row, identity=inline) for row in _rows(campaign.variants.all())
        ],
    }


def _campaign_extras(victim: Campaign, someone) -> dict:
    """What an attacker adds to the campaign form: columns the panels leave out,
    the key figures, someone else's campaign as parent of the inline rows, and a row
    beyond the formset's TOTAL_FORMS."""
    return {
        "status": CampaignStatus.FINISHED,
        "activated_at": LONG_AGO,
        "expanded_at": LONG_AGO,
        "created_at": LONG_AGO,
        "updated_at": LONG_AGO,
        "created_by": str(someone.pk),
        "id": str(victim.pk),
        "pk": str(victim.pk),
        "sent": "5000",
        "return_rate_difference": "-0.5",
        "contents-0-campaign": str(victim.pk),
        "contents-0-campaign_id": str(victim.pk),
        "variants-0-campaign": str(victim.pk),
        "variants-0-assignments": "1",
        "contents-9-language": "nl",
        "contents-9-subject": "A row the formset does not count",
        "variants-9-code": "Z",
    }


def _post_campaign(client, target: str, extras: dict | None = None, **form):
    data, languages = form_data(**form)
    payload = data | (extras or {})
    if languages:
        payload["languages"] = languages
    return client.post(target, payload)


def test_creating_a_campaign_stores_only_what_the_form_offers(
    admin_client, admin_user, someone, victim_campaign
):
    victim_unchanged = _changed_nothing(lambda: _campaign_whole(victim_campaign))

    honest = _post_campaign(admin_client, campaign_url("add"), variants=[VARIANT])
    attacked = _post_campaign(
        admin_client,
        campaign_url("add"),
        _campaign_extras(victim_campaign, someone),
        variants=[VARIANT],
    )

    assert (honest.status_code, attacked.status_code) == (302, 302)
    first, second = Campaign.objects.exclude(pk=victim_campaign.pk).order_by("pk")
    assert _campaign_as_stored(second) == _campaign_as_stored(first)
    assert (second.status, second.activated_at, second.created_by) == (
        "draft",
        None,
        admin_user,
    )
    assert list(second.variants.values_list("code", flat=True)) == ["B"]
    victim_unchanged()


def test_editing_a_campaign_stores_only_what_the_form_offers(
    admin_client, admin_user, someone, victim_campaign
):
    # given: twin campaigns, active since yesterday
    yesterday = timezone.now() - timedelta(days=1)
    twins = [
        make_campaign(status=CampaignStatus.ACTIVE, activated_at=yesterday)
        for _ in range(2)
    ]
    victim_unchanged = _changed_nothing(lambda: _campaign_whole(victim_campaign))

    # when: the same edit is posted to both, once with the extras
    def edit(campaign, extras=None):
        content, variant = campaign.contents.get(), campaign.variants.get()
        return _post_campaign(
            admin_client,
            campaign_url("edit", campaign.pk),
            extras,
            name="Renamed",
            holdout_percent="20",
            contents=[CONTENT | {"id": str(content.pk), "subject": "Still happy?"}],
            saved_contents=1,
            variants=[VARIANT | {"id": str(variant.pk), "weight": "3"}],
            saved_variants=1,
        )

    honest = edit(twins[0])
    attacked = edit(twins[1], _campaign_extras(victim_campaign, someone))

    # then: the attacked twin is stored as the honest one; still active since yesterday
    assert (honest.status_code, attacked.status_code) == (302, 302)
    assert _campaign_as_stored(twins[1]) == _campaign_as_stored(twins[0])
    twins[1].refresh_from_db()
    assert (twins[1].name, twins[1].holdout_percent) == ("Renamed", 20)
    assert (twins[1].status, twins[1].activated_at, twins[1].created_by) == (
        "active",
        yesterday,
        None,
    )
    victim_unchanged()


@pytest.mark.parametrize("delete", [False, True], ids=["change", "delete"])
def test_an_inline_row_of_another_campaign_cannot_be_changed_or_deleted(
    admin_client, victim_campaign, delete
):
    """The inline rows' hidden `id` names a row of another campaign. Its changes
    become a new row of the campaign being edited (as if the editor had added it);
    deleting it deletes nothing. The other campaign stays as it was."""
    campaign = make_campaign()
    content, variant = campaign.contents.get(), campaign.variants.get()
    theirs_content = victim_campaign.contents.get()
    theirs_variant = victim_campaign.variants.get()
    victim_unchanged = _changed_nothing(lambda: _campaign_whole(victim_campaign))
    hijack = {"DELETE": "1"} if delete else {}

    response = _post_campaign(
        admin_client,
        campaign_url("edit", campaign.pk),
        contents=[
            CONTENT | {"id": str(content.pk)},
            {"id": str(theirs_content.pk), "language": "nl", "subject": "Hijacked"}
            | hijack,
        ],
        saved_contents=2,
        variants=[
            VARIANT | {"id": str(variant.pk)},
            VARIANT
            | {"id": str(theirs_variant.pk), "code": "C", "name": "Hijacked"}
            | hijack,
        ],
        saved_variants=2,
    )

    assert response.status_code == 302
    victim_unchanged()
    subjects = dict(campaign.contents.values_list("pk", "subject"))
    names = dict(campaign.variants.values_list("pk", "name"))
    assert subjects.pop(content.pk) == "How is your order?"
    assert names.pop(variant.pk) == "Most helpful"
    added = [] if delete else ["Hijacked"]
    assert (list(subjects.values()), list(names.values())) == (added, added)
    assert theirs_content.pk not in subjects
    assert theirs_variant.pk not in names


def test_a_campaign_button_only_makes_its_own_move(
    admin_client, admin_user, someone, victim_campaign
):
    campaign = make_campaign()
    victim_unchanged = _changed_nothing(lambda: _campaign_whole(victim_campaign))
    before = timezone.now()

    response = admin_client.post(
        campaign_url("transition", campaign.pk, "activate"),
        _campaign_extras(victim_campaign, someone)
        | {"action": "finish", "to_status": "finished", "by": str(someone.pk)},
    )

    assert response.status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == "active"
    assert campaign.activated_at >= before
    assert list(campaign.events.values_list("from_status", "to_status", "by")) == [
        ("draft", "active", admin_user.pk)
    ]
    victim_unchanged()


def test_send_me_a_test_goes_only_to_the_editor(admin_client, admin_user, someone):
    campaign = make_campaign()
    anna = CustomerFactory(email="anna@example.com")
    OrderFactory(customer=anna, number="#5001")

    response = admin_client.post(
        campaign_url("preview", campaign.pk),
        {"customer": anna.email, "order": "#5001", "language": "en"}
        | {
            "to_email": "attacker@example.org",
            "email": "attacker@example.org",
            "reply_to": "attacker@example.org",
            "sender_label": "campaign:999",
            "category": "marketing",
            "subject": "Click here",
            "by": str(someone.pk),
        },
    )

    assert response.status_code == 302
    message = Message.objects.get()
    assert (
        message.to_email,
        message.reply_to,
        message.subject,
        message.sender_label,
        message.category,
    ) == (
        admin_user.email,
        "",
        "[TEST] How is your order?",
        f"campaign:{campaign.pk}:test",
        "service",
    )
    assert message.context["requested_by"] == admin_user.pk


# Returns --------------------------------------------------------------------------------


@pytest.fixture
def shop(settings, tmp_path):
    """The default return policy and centre, reviews waiting for a moderator, and
    uploads and rate limits isolated."""
    settings.MEDIA_ROOT = tmp_path
    cache.clear()
    default_policy()
    centre()
    rules = ReviewSettings.load()
    rules.auto_approve_clean = False
    rules.save()
    yield
    cache.clear()


def file_return(customer, *, number: str, sku: str) -> ReturnRequest:
    """One shirt of a EUR 900 order back for store credit: held for approval."""
    order = delivered_order(customer, number=number, sku=sku, price="900.00")
    line = order.lines.get()
    return return_services.submit_return(
        order=order,
        choices=[
            return_services.LineChoice(
                order_line_id=line.pk,
                quantity=1,
                reason_code="changed-mind",
                resolution="store_credit",
            )
        ],
        channel="guest",
        idempotency_key=f"key-{number}",
    )


def _own_line(found: ReturnRequest) -> ReturnLine:
    return found.lines.get()


# Each action of the returns team: the steps before it, and the honest form.
STEPS_BEFORE = {
    "approve": [],
    "reject": [],
    "receive": ["approve"],
    "inspect-items": ["approve", "receive"],
    "resolve": ["approve", "receive", "inspect"],
    "close": ["approve", "receive", "inspect", "resolve"],
}


def _step(found: ReturnRequest, step: str, by) -> None:
    line = _own_line(found)
    if step == "approve":
        return_services.approve(request=found, by=by)
    elif step == "receive":
        return_services.receive(request=found, by=by, conditions={line.pk: "opened"})
    elif step == "inspect":
        findings = {line.pk: {"condition": "opened", "disposition": "restock"}}
        return_services.inspect(request=found, by=by, findings=findings)
    elif step == "resolve":
        return_services.resolve(request=found, by=by)


def ready_for(action: str, found: ReturnRequest, by) -> ReturnRequest:
    for step in STEPS_BEFORE[action]:
        _step(found, step, by)
    found.refresh_from_db()
    return found


def honest_action_form(action: str, found: ReturnRequest) -> dict:
    prefix = f"line-{_own_line(found).pk}"
    return {
        "approve": {"note": "Fine, go ahead."},
        "reject": {"reason": "Worn beyond a try-on."},
        "receive": {f"{prefix}-condition": "as_new"},
        "inspect-items": {
            f"{prefix}-confirmed_reason": "size-fit",
            f"{prefix}-condition": "used",
            f"{prefix}-disposition": "refurbish",
        },
        "resolve": {"note": "Credited."},
        "close": {"note": "Done."},
    }[action]


def _return_extras(found: ReturnRequest, victim: ReturnRequest) -> dict:
    """What an attacker adds to an action form: the return's own columns, more
    fields for its line, and fields naming a line of another customer's return."""
    own = f"line-{_own_line(found).pk}"
    theirs_line = _own_line(victim)
    theirs = f"line-{theirs_line.pk}"
    return {
        "status": ReturnStatus.CANCELLED,
        "rma": "RMA-HACKED",
        "customer": str(victim.customer_id),
        "order": str(victim.order_id),
        "channel": "staff",
        "needs_approval": "",
        "window_exception": "on",
        "refund_total": "9999.00",
        "store_credit_total": "9999.00",
        "shipping_charge": "9999.00",
        "resolved_at": LONG_AGO,
        "rejection_reason": "Set by a hidden field",
        "points": "100000",
        "resolutions": f'{{"{_own_line(found).pk}": "refund"}}',
        f"{own}-resolution": "refund",
        f"{own}-refund_amount": "9999.00",
        f"{own}-store_credit_amount": "9999.00",
        f"{own}-quantity": "2",
        f"{own}-returnless": "on",
        f"{own}-condition": "missing",
        f"{own}-disposition": "dispose",
        f"{theirs}-condition": "damaged",
        f"{theirs}-confirmed_reason": "defective",
        f"{theirs}-disposition": "dispose",
        f"{theirs}-resolution": "refund",
        f"{theirs}-refund_amount": "9999.00",
        "line": str(theirs_line.pk),
        "lines": str(theirs_line.pk),
        "request": str(victim.pk),
        "id": str(victim.pk),
        "pk": str(victim.pk),
    }


def _return_whole(found: ReturnRequest) -> dict:
    return {
        "request": _row(found),
        "lines": _rows(found.lines.all()),
        "events": _rows(found.events.all()),
        "credit": _rows(StoreCreditEntry.objects.filter(key__contains=found.rma)),
    }


def _return_as_stored(found: ReturnRequest) -> dict:
    """The return, its lines, events and store credit, as twins compare."""
    return {
        "request": _as_twin(
            _row(found), identity={"id", "rma", "order_id", "idempotency_key"}
        ),
        "lines": [
            _as_twin(row, identity={"id", "request_id", "order_line_id"})
            for row in _rows(found.lines.all())
        ],
        "events": list(
            found.events.order_by("pk").values_list(
                "kind", "from_status", "to_status", "actor", "by", "note"
            )
        ),
        "credit": list(
            StoreCreditEntry.objects.filter(key__contains=found.rma).values_list(
                "amount", "kind", "created_by"
            )
        ),
    }


EXPECTED_STATUS = {
    "approve": ReturnStatus.APPROVED,
    "reject": ReturnStatus.REJECTED,
    "receive": ReturnStatus.RECEIVED,
    "inspect-items": ReturnStatus.INSPECTED,
    "resolve": ReturnStatus.RESOLVED,
    "close": ReturnStatus.CLOSED,
}


def return_action_url(found: ReturnRequest, action: str) -> str:
    return reverse("returns_queue:action", args=[found.pk, action])


@pytest.mark.parametrize("action", list(STEPS_BEFORE))
def test_a_returns_action_stores_only_what_its_form_offers(
    shop, admin_client, admin_user, action
):
    # given: twin returns of Sanne's, and Bob's return in the same state
    sanne = CustomerFactory(email="sanne@example.com")
    twins = [
        ready_for(action, file_return(sanne, number=f"RW-{n}", sku=f"T{n}"), admin_user)
        for n in (1, 2)
    ]
    bob = CustomerFactory(email="bob@example.com")
    victim = ready_for(action, file_return(bob, number="RW-BOB", sku="BOB"), admin_user)
    victim_unchanged = _changed_nothing(lambda: _return_whole(victim))
    rma = twins[1].rma

    # when: the same action is posted for both, once with the extras
    honest = admin_client.post(
        return_action_url(twins[0], action), honest_action_form(action, twins[0])
    )
    attacked = admin_client.post(
        return_action_url(twins[1], action),
        _return_extras(twins[1], victim) | honest_action_form(action, twins[1]),
    )

    # then: the attacked twin is stored as the honest one; Bob's return is untouched
    assert (honest.status_code, attacked.status_code) == (302, 302)
    assert _return_as_stored(twins[1]) == _return_as_stored(twins[0])
    twins[1].refresh_from_db()
    assert (twins[1].status, twins[1].rma, twins[1].customer) == (
        EXPECTED_STATUS[action],
        rma,
        sanne,
    )
    line = _own_line(twins[1])
    resolved = action in ("resolve", "close")
    assert (line.quantity, line.returnless, line.resolution) == (
        1,
        False,
        "store_credit" if resolved else "",
    )
    victim_unchanged()


def test_resolving_pays_the_store_credit_asked_for_not_a_posted_refund(
    shop, admin_client, admin_user
):
    """The admin form has no resolution field: the customer's choice stands."""
    sanne = CustomerFactory(email="sanne@example.com")
    found = ready_for("resolve", file_return(sanne, number="RW-1", sku="A"), admin_user)
    bob = CustomerFactory(email="bob@example.com")
    victim = ready_for("resolve", file_return(bob, number="RW-2", sku="B"), admin_user)

    response = admin_client.post(
        return_action_url(found, "resolve"),
        _return_extras(found, victim) | {"note": ""},
    )

    assert response.status_code == 302
    found.refresh_from_db()
    line = _own_line(found)
    assert (line.resolution, line.refund_amount, line.store_credit_amount) == (
        "store_credit",
        Decimal("0.00"),
        Decimal("990.00"),
    )
    assert (found.refund_total, found.store_credit_total) == (
        Decimal("0.00"),
        Decimal("990.00"),
    )
    assert list(
        StoreCreditEntry.objects.values_list("account__customer", "amount")
    ) == [(sanne.pk, Decimal("990.00"))]


def test_a_new_centre_token_is_made_by_the_server_not_chosen_in_the_post(
    shop, admin_client
):
    main = FulfilmentCentre.objects.get()
    chosen = "attacker-chosen-key-0123456789"

    response = admin_client.post(
        reverse("returns_centres:new_token", args=[main.pk]),
        {
            "key": chosen,
            "key_hash": FulfilmentCentre.hash_key(chosen),
            "key_prefix": chosen[:8],
            "token_created_at": LONG_AGO,
            "revoked_at": LONG_AGO,
        },
    )

    assert response.status_code == 200
    key = response.context["key"]
    main.refresh_from_db()
    assert key != chosen
    assert (main.key_hash, main.key_prefix, main.revoked_at) == (
        FulfilmentCentre.hash_key(key),
        key[:8],
        None,
    )
    assert main.token_created_at > timezone.now() - timedelta(minutes=5)


def _edit_centre(client, centre: FulfilmentCentre, **extras):
    """The centre's edit form, renamed "Renamed warehouse", plus `extras`."""
    return client.post(
        reverse("returns_centres:edit", args=[centre.pk]),
        {
            "name": "Renamed warehouse",
            "code": centre.code,
            "kind": centre.kind,
            "address": centre.address,
            "country": centre.country,
            "email": "",
            "return_shipping_cost": "",
            "currency": "EUR",
            "is_default": "on",
        }
        | extras,
    )


def test_editing_a_centre_cannot_set_its_api_token(shop, admin_client):
    main, key = return_services.create_centre_token(
        centre=FulfilmentCentre.objects.get()
    )
    token_before = (main.key_hash, main.key_prefix, main.token_created_at)
    chosen = "attacker-chosen-key-0123456789"

    response = _edit_centre(
        admin_client,
        main,
        revoked_at="",
        key_hash=FulfilmentCentre.hash_key(chosen),
        key_prefix=chosen[:8],
        token_created_at=LONG_AGO,
    )

    assert response.status_code == 302
    main.refresh_from_db()
    assert main.name == "Renamed warehouse"
    assert (main.key_hash, main.key_prefix, main.token_created_at) == token_before
    assert main.key_hash == FulfilmentCentre.hash_key(key)


def test_editing_a_centre_cannot_bring_a_revoked_api_key_back(shop, admin_client):
    main, key = return_services.create_centre_token(
        centre=FulfilmentCentre.objects.get()
    )
    main = return_services.revoke_centre_token(centre=main)
    revoked_at = main.revoked_at
    api = Client(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/returns").status_code == 401

    # The edit form shows "token revoked at" but does not take it.
    response = _edit_centre(admin_client, main, revoked_at="")

    assert response.status_code == 302
    main.refresh_from_db()
    assert (main.name, main.revoked_at) == ("Renamed warehouse", revoked_at)
    assert api.get("/api/v1/returns").status_code == 401


@pytest.mark.parametrize("model", [ReturnRequest, Review])
def test_the_generic_snippet_forms_of_returns_and_reviews_are_closed(
    shop, admin_client, someone, model
):
    """Wagtail mounts add/edit/delete for every snippet; only the action views may
    change a return or a review, even for a superuser."""
    sanne = CustomerFactory(email="sanne@example.com")
    if model is ReturnRequest:
        found, namespace = file_return(sanne, number="RW-1", sku="A"), "returns_queue"
    else:
        found, namespace = submit(delivered_line(sanne)), "reviews_queue"
    unchanged = _changed_nothing(lambda: _rows(model.objects.all()))
    fields = {
        "status": "approved",
        "rating": "1",
        "body": "Rewritten",
        "refund_total": "9999.00",
        "customer": str(CustomerFactory().pk),
        "points_awarded": "100000",
        "moderated_by": str(someone.pk),
    }

    for name, args in (("edit", [found.pk]), ("add", []), ("delete", [found.pk])):
        response = admin_client.post(reverse(f"{namespace}:{name}", args=args), fields)
        assert (response.status_code, response.get("Location")) == (302, "/admin/")

    unchanged()


# Reviews --------------------------------------------------------------------------------

# Each moderation action: whether the review is approved first, and the honest form.
MODERATION = {
    "approve": (False, {}),
    "reject": (False, {"reason": "Not about the product."}),
    "remove": (True, {"reason": "Copied from another site."}),
    "reply": (True, {"body": "Thank you for the tip!"}),
}
EXPECTED_REVIEW_STATUS = {
    "approve": ReviewStatus.APPROVED,
    "reject": ReviewStatus.REJECTED,
    "remove": ReviewStatus.REMOVED,
    "reply": ReviewStatus.APPROVED,
}


def _review_extras(victim: Review, someone) -> dict:
    """What an attacker adds to a moderation form: the review's own columns, the
    points, and fields naming another customer's review."""
    return {
        "rating": "1",
        "title": "Changed by staff",
        "body": "Rewritten by staff.",
        "language": "nl",
        "customer": str(victim.customer_id),
        "product": str(victim.product_id),
        "order_line": str(victim.order_line_id),
        "status": ReviewStatus.WITHDRAWN,
        "points": "100000",
        "points_awarded": "100000",
        "rewarded": "on",
        "helpful_count": "999",
        "may_quote": "",
        "flags": '["link"]',
        "approved_at": LONG_AGO,
        "moderated_by": str(someone.pk),
        "reply_body": "A reply nobody wrote",
        "rejection_reason": "A reason nobody gave",
        "id": str(victim.pk),
        "pk": str(victim.pk),
        "review": str(victim.pk),
        f"status-{victim.pk}": ReviewStatus.APPROVED,
    }


def _review_ledger(review: Review) -> list[tuple]:
    return list(
        PointsEntry.objects.filter(key__endswith=f":{review.pk}")
        .order_by("pk")
        .values_list("amount", "kind")
    )


def _review_whole(review: Review) -> dict:
    return {
        "review": _row(review),
        "events": _rows(review.events.all()),
        "ledger": _review_ledger(review),
    }


def _review_as_stored(review: Review) -> dict:
    """The review, its events and points, as twins compare."""
    return {
        "review": _as_twin(_row(review), identity={"id", "order_line_id", "body"}),
        "events": list(
            review.events.order_by("pk").values_list(
                "from_status", "to_status", "by", "note"
            )
        ),
        "ledger": _review_ledger(review),
    }


# The twins' texts differ: a near-copy of another review is flagged as a duplicate.
OTHER_BODY = "Nice colour and a good fit; I have worn it every week since it came."


def _pending_review(customer, product=None, body=GOOD_BODY) -> Review:
    line = delivered_line(customer, product=product)
    return submit(line, title="Lovely jumper", body=body)


@pytest.mark.parametrize("action", list(MODERATION))
def test_a_moderation_action_stores_only_what_its_form_offers(
    shop, admin_client, admin_user, someone, action
):
    # given: twin reviews by Anna (approved first, for remove and reply), Bob's pending
    approved_first, form = MODERATION[action]
    anna = CustomerFactory(email="anna@example.com")
    first = _pending_review(anna)
    twins = [first, _pending_review(anna, first.product, body=OTHER_BODY)]
    if approved_first:
        for review in twins:
            review_services.approve(review=review, by=admin_user)
    victim = _pending_review(CustomerFactory(email="bob@example.com"))
    victim_unchanged = _changed_nothing(lambda: _review_whole(victim))

    # when: the same action is posted for both, once with the extras
    def moderate(review, extras=None):
        target = reverse(f"reviews_queue:{action}", args=[review.pk])
        return admin_client.post(target, (extras or {}) | form)

    honest = moderate(twins[0])
    attacked = moderate(twins[1], _review_extras(victim, someone))

    # then: the attacked twin is stored as the honest one, with the normal points
    assert (honest.status_code, attacked.status_code) == (302, 302)
    assert _review_as_stored(twins[1]) == _review_as_stored(twins[0])
    twins[1].refresh_from_db()
    assert (twins[1].status, twins[1].rating, twins[1].body, twins[1].customer) == (
        EXPECTED_REVIEW_STATUS[action],
        4,
        OTHER_BODY,
        anna,
    )
    points = sum(amount for amount, _kind in _review_ledger(twins[1]))
    assert (points, twins[1].points_awarded) == {
        "approve": (50, 50),
        "reject": (0, 0),
        "remove": (0, 0),
        "reply": (50, 50),
    }[action]
    victim_unchanged()


@pytest.mark.parametrize(
    ("action", "form", "status"),
    [
        ("approve", {}, ReviewStatus.APPROVED),
        ("reject", {"reason": "Off topic."}, ReviewStatus.REJECTED),
    ],
)
def test_bulk_moderation_acts_only_on_the_reviews_in_its_url(
    shop, admin_client, someone, action, form, status
):
    anna = CustomerFactory(email="anna@example.com")
    chosen = _pending_review(anna)
    victim = _pending_review(CustomerFactory(email="bob@example.com"))
    victim_unchanged = _changed_nothing(lambda: _review_whole(victim))
    target = f"/admin/bulk/reviews/review/{action}/?id={chosen.pk}&next=/admin/"

    response = admin_client.post(
        target, _review_extras(victim, someone) | {"id": str(victim.pk)} | form
    )

    assert response.status_code == 302
    chosen.refresh_from_db()
    assert (chosen.status, chosen.rating, chosen.title) == (status, 4, "Lovely jumper")
    victim_unchanged()


# CSRF -------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdminPost:
    """A state-changing admin form: the page it is on, where it posts, valid data."""

    page: str
    target: str
    data: dict


def _campaign_create(user) -> AdminPost:
    data, _languages = form_data()
    return AdminPost(campaign_url("add"), campaign_url("add"), data)


def _campaign_edit(user) -> AdminPost:
    campaign = make_campaign()
    data, _languages = form_data(
        name="Renamed",
        contents=[CONTENT | {"id": str(campaign.contents.get().pk)}],
        saved_contents=1,
    )
    edit = campaign_url("edit", campaign.pk)
    return AdminPost(edit, edit, data)


def _campaign_activate(user) -> AdminPost:
    campaign = make_campaign()
    return AdminPost(
        campaign_url("edit", campaign.pk),
        campaign_url("transition", campaign.pk, "activate"),
        {},
    )


def _campaign_test_mail(user) -> AdminPost:
    campaign = make_campaign()
    anna = CustomerFactory(email="anna@example.com")
    OrderFactory(customer=anna, number="#5001")
    preview = campaign_url("preview", campaign.pk)
    return AdminPost(
        f"{preview}?customer={anna.email}&order=%235001",
        preview,
        {"customer": anna.email, "order": "#5001"},
    )


def _return_action(action: str) -> Callable:
    def build(user) -> AdminPost:
        customer = CustomerFactory(email="sanne@example.com")
        found = ready_for(action, file_return(customer, number="RW-1", sku="A"), user)
        target = return_action_url(found, action)
        return AdminPost(target, target, honest_action_form(action, found))

    return build


def _centre_token(name: str) -> Callable:
    def build(user) -> AdminPost:
        main = FulfilmentCentre.objects.get()
        if name == "revoke_token":
            main, _key = return_services.create_centre_token(centre=main)
        target = reverse(f"returns_centres:{name}", args=[main.pk])
        return AdminPost(target, target, {})

    return build


def _moderation(action: str) -> Callable:
    approved_first, form = MODERATION[action]

    def build(user) -> AdminPost:
        review = _pending_review(CustomerFactory(email="anna@example.com"))
        if approved_first:
            review_services.approve(review=review, by=user)
        return AdminPost(
            reverse("reviews_queue:inspect", args=[review.pk]),
            reverse(f"reviews_queue:{action}", args=[review.pk]),
            form,
        )

    return build


def _bulk(action: str, form: dict) -> Callable:
    def build(user) -> AdminPost:
        review = _pending_review(CustomerFactory(email="anna@example.com"))
        target = f"/admin/bulk/reviews/review/{action}/?id={review.pk}&next=/admin/"
        return AdminPost(target, target, form)

    return build


ADMIN_POSTS = {
    "campaign create": _campaign_create,
    "campaign edit": _campaign_edit,
    "campaign activate": _campaign_activate,
    "campaign test mail": _campaign_test_mail,
    **{f"return {action}": _return_action(action) for action in STEPS_BEFORE},
    "centre new token": _centre_token("new_token"),
    "centre revoke token": _centre_token("revoke_token"),
    **{f"review {action}": _moderation(action) for action in MODERATION},
    "reviews bulk approve": _bulk("approve", {}),
    "reviews bulk reject": _bulk("reject", {"reason": "Off topic."}),
}

WATCHED = [
    Campaign,
    CampaignContent,
    CampaignVariant,
    CampaignEvent,
    Message,
    ReturnRequest,
    ReturnLine,
    StoreCreditEntry,
    FulfilmentCentre,
    Review,
    PointsEntry,
]


def _everything() -> dict:
    return {model.__name__: _rows(model.objects.all()) for model in WATCHED}


def _token_on(page) -> str:
    found = re.search(
        r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()
    )
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


@pytest.mark.parametrize("name", list(ADMIN_POSTS))
def test_an_admin_post_needs_the_csrf_token_and_works_with_it(shop, admin_user, name):
    post = ADMIN_POSTS[name](admin_user)
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    page = client.get(post.page)  # sets the CSRF cookie, as a visit would
    assert page.status_code == 200
    before = _everything()

    forged = client.post(post.target, post.data)

    assert forged.status_code == 403
    assert "CSRF verification failed" in forged.content.decode()
    assert _everything() == before

    accepted = client.post(
        post.target, post.data | {"csrfmiddlewaretoken": _token_on(page)}
    )

    assert accepted.status_code in (200, 302)
    assert _everything() != before
