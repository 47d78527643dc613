"""Shared set-up for the campaigns admin tests: a marketer, an outsider, the admin URLs
and the edit form's POST data.

Plain helpers: each test module declares the few fixtures it uses."""

from __future__ import annotations

import itertools
from datetime import timedelta

from django.contrib.auth.models import Group, Permission
from django.urls import reverse
from django.utils import timezone
from wagtail.test.utils.form_data import (
    inline_formset,
    nested_form_data,
    rich_text,
    streamfield,
)

from campaigns.models import Assignment
from emails.models import EventKind, Message, MessageEvent
from reviews.models import Review, ReviewStatus
from tests.factories import (
    CustomerFactory,
    OrderFactory,
    OrderLineFactory,
    UserFactory,
)
from tests.insights.planted import give_back

PASSWORD = "correct horse battery staple"
_seq = itertools.count(1)


def marketing_group() -> Group:
    """The "Marketing" group with (at least) what campaigns migration 0002 gives it:
    an earlier transactional test may have flushed the migrations' data."""
    group, _ = Group.objects.get_or_create(name="Marketing")
    group.permissions.add(
        *Permission.objects.filter(content_type__app_label="campaigns"),
        Permission.objects.get(codename="access_admin"),
    )
    return group


def marketer(username: str = "mia", email: str = "mia@example.com"):
    user = UserFactory(username=username, email=email, is_staff=True)
    user.groups.add(marketing_group())
    return user


def outsider(username: str = "otto"):
    """Staff with access to the Wagtail admin, but not in marketing."""
    user = UserFactory(username=username, is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="access_admin"))
    return user


def url(name: str, *args) -> str:
    return reverse(f"campaigns:{name}", args=args)


def form_data(
    *,
    variants=(),
    contents=None,
    body=None,
    saved_contents=0,
    saved_variants=0,
    **fields,
) -> dict[str, str]:
    """The create/edit form's POST data: a post-purchase campaign unless overridden,
    one English content by default (the first `saved_contents` are saved ones, with
    their "id"; the first `saved_variants` likewise)."""
    values = {
        "name": "After delivery: what others say",
        "kind": "post_purchase",
        "trigger": "delivered",
        "delay_days": "3",
        "reminder_after_days": "",
        "scheduled_at": "",
        "window_start": "09:00",
        "window_end": "20:00",
        "holdout_percent": "10",
        "reviews_per_product": "3",
        "category": "",
        "ordered_within_days": "",
        "persona": "",
    }
    special = ("languages", "frequency_cap_exempt", "include_serial_returners")
    values |= {key: value for key, value in fields.items() if key not in special}
    if contents is None:
        contents = [
            {
                "language": "en",
                "variant_code": "",
                "subject": "How is your order, {first_name}?",
                "preheader": "",
                "body": body
                or streamfield(
                    [
                        ("heading", "Others love it too"),
                        ("text", rich_text("<p>Thank you for your order.</p>")),
                        ("featured_reviews", {"heading": "Reviews", "fallback": ""}),
                    ]
                ),
            }
        ]
    blank = {"variant_code": "", "preheader": "", "body": streamfield([])}
    values |= {
        "variants": inline_formset(list(variants), initial=saved_variants),
        "contents": inline_formset(
            [blank | content for content in contents], initial=saved_contents
        ),
    }
    data = nested_form_data(values)
    # Checkboxes are absent when unticked; languages may be ticked several times.
    for key in ("frequency_cap_exempt", "include_serial_returners"):
        if fields.get(key):
            data[key] = "on"
    return data, list(fields.get("languages", []))


def post_form(client, target: str, **kwargs):
    """POST the edit form (with the repeated `languages` field)."""
    data, languages = form_data(**kwargs)
    payload = dict(data)
    if languages:
        payload["languages"] = languages
    return client.post(target, payload)


def assign(campaign, *, group, code="A", returned=None, reviewed=False, mail=None):
    """One order assigned to `group`: returned (a return in that status), reviewed,
    and for the e-mail group a message with the given delivery facts."""
    customer = CustomerFactory()
    order = OrderFactory(customer=customer)
    line = OrderLineFactory(order=order)
    if returned:
        give_back(order, status=returned)
    if reviewed:
        Review.objects.create(
            order_line=line,
            customer=customer,
            product=line.product,
            rating=4,
            title="Fine",
            body="Does the job.",
            status=ReviewStatus.APPROVED,
        )
    message = None
    n = next(_seq)
    if mail is not None:
        now = timezone.now()
        message = Message.objects.create(
            key=f"campaign:{campaign.pk}:{order.pk}",
            to_email=customer.email,
            customer=customer,
            sender_label=campaign.sender_label,
            status="sent",
            sent_at=now - timedelta(days=1),
            delivered_at=now if "delivered" in mail else None,
            opened_at=now if "opened" in mail else None,
            clicked_at=now if "clicked" in mail else None,
            bounced_at=now if "bounced" in mail else None,
        )
        if "unsubscribed" in mail:
            MessageEvent.objects.create(
                message=message, kind=EventKind.UNSUBSCRIBE, occurred_at=now
            )
    return Assignment.objects.create(
        campaign=campaign,
        customer=customer,
        order=order,
        variant_code=code,
        group=group,
        key=f"planted:{campaign.pk}:{n}",
        message=message,
        assigned_at=timezone.now() - timedelta(days=1),
    )
