"""Every write of the returns app: filing a return, each move of its state machine,
executing its resolution, the centres' reports and the satisfaction score.

Services take keyword arguments, run in one transaction, lock the rows they change and
write one ReturnEvent per move. A refusal raises a `ReturnsError` whose `.message` is
translated plain words (and `.field` names the input it is about).

Ownership: a service given `by=<user>` for a user who is not staff refuses to act on an
order or return that is not that user's (`NotYourReturn`). Guest and QR flows prove
ownership at the edge (signed link, order number + e-mail) and pass `by=None`.

Approval. A new return is approved at once unless one of `APPROVAL_CHECKS` gives a
reason to wait for the returns team: its value is above
`ReturnsSettings.manual_approval_above`, or staff filed it as an exception outside the
return window. Other rules (the serial-returner rule of the insights issue) join by
`register_approval_check(func)`: `func(request) -> str | None`, called with the new
return and its lines saved; a returned string is the reason code stored in
`ReturnRequest.approval_reasons`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.contrib.auth.models import AnonymousUser
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cms.rules import PolicyRules
from config.photos import PhotoRejected, process_photo
from emails import services as outbox
from emails.rendering import site_url
from loyalty import services as loyalty
from returns import costs, links, signals
from returns.eligibility import LineEligibility, eligibility_for_order
from returns.models import (
    ALLOWED_TRANSITIONS,
    Actor,
    Channel,
    Condition,
    Disposition,
    EventKind,
    FulfilmentCentre,
    Payer,
    Resolution,
    ReturnEvent,
    ReturnLine,
    ReturnPhoto,
    ReturnReason,
    ReturnRequest,
    ReturnsSettings,
    ReturnStatus,
)
from shop.models import Order, OrderLine

ZERO = Decimal("0.00")
PHOTO_MAX_BYTES = 8 * 1024 * 1024
RMA_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"  # no 0/O, 1/I/L, U
SENDER = "returns"


# Refusals ------------------------------------------------------------------------------


class ReturnsError(Exception):
    default_message = gettext_lazy("This return cannot be changed that way.")

    def __init__(self, message=None, *, field: str = ""):
        self.message = str(message or self.default_message)
        self.field = field
        super().__init__(self.message)


class ReturnNotEligible(ReturnsError):
    default_message = gettext_lazy("This item cannot be returned.")


class IllegalTransition(ReturnsError):
    default_message = gettext_lazy("This return cannot move to that step now.")


class NotYourReturn(ReturnsError):
    default_message = gettext_lazy("This return was not found.")


class UnknownReturn(ReturnsError):
    default_message = gettext_lazy("This return was not found.")


class EventConflict(ReturnsError):
    default_message = gettext_lazy(
        "This event id was already used for another return or kind of event."
    )


# Approval checks -----------------------------------------------------------------------

ApprovalCheck = Callable[[ReturnRequest], "str | None"]
APPROVAL_CHECKS: list[ApprovalCheck] = []


def register_approval_check(check: ApprovalCheck) -> ApprovalCheck:
    """Add a rule that may hold a new return for the returns team (see module doc)."""
    if check not in APPROVAL_CHECKS:
        APPROVAL_CHECKS.append(check)
    return check


@register_approval_check
def high_value(request: ReturnRequest) -> str | None:
    limit = ReturnsSettings.load().manual_approval_above
    total = sum((line.line_value for line in request.lines.all()), ZERO)
    if limit is not None and total > limit:
        return "high_value"
    return None


@register_approval_check
def outside_window(request: ReturnRequest) -> str | None:
    return "outside_window" if request.window_exception else None


APPROVAL_REASON_LABELS = {
    "high_value": gettext_lazy("High value"),
    "outside_window": gettext_lazy("Exception outside the return window"),
    "serial_returner": gettext_lazy("Frequent returner"),
}


# Quotes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CleanedPhoto:
    """A photo this code has cleaned already (the portal keeps one in the draft
    between "choose" and "confirm"): stored as it is, not decoded and re-encoded
    again. Only our own code makes one; nothing from outside can."""

    file: ContentFile


@dataclass
class LineChoice:
    order_line_id: int
    quantity: int
    reason_code: str
    resolution: str
    comment: str = ""
    prevention: str = ""
    photo: UploadedFile | CleanedPhoto | None = None


@dataclass
class QuoteLine:
    choice: LineChoice
    order_line: OrderLine
    reason: ReturnReason
    policy: PolicyRules
    quantity: int
    resolution: str
    shop_at_fault: bool
    unit_value: Decimal
    value: Decimal
    restocking_fee: Decimal
    refund_amount: Decimal
    store_credit_amount: Decimal
    estimated_cost: Decimal
    returnless: bool
    outside_window: bool
    explanations: list[str] = field(default_factory=list)
    # The customer's photo, cleaned (config.photos): what is stored with the line.
    photo: ContentFile | None = None


@dataclass
class ReturnQuote:
    order: Order
    lines: list[QuoteLine]
    currency: str
    centre: FulfilmentCentre | None
    needs_shipping: bool
    shipping_paid_by: str
    shipping_cost: Decimal  # what the customer is charged for the label
    label_cost: Decimal  # what the label costs, whoever pays
    handling_cost: Decimal
    value_total: Decimal
    refund_total: Decimal
    store_credit_total: Decimal
    restocking_fee_total: Decimal
    explanations: list[str] = field(default_factory=list)

    @property
    def estimated_cost(self) -> Decimal:
        return (self.label_cost if self.needs_shipping else ZERO) + self.handling_cost


def _money(amount: Decimal, currency: str) -> str:
    return f"{currency} {amount:.2f}"


def route_centre(products) -> FulfilmentCentre | None:
    """The centre for a parcel: the first centre taking the first product's category
    (by product order), else the default centre. One query."""
    category_ids = [p.category_id for p in products if p.category_id]
    centres = list(
        FulfilmentCentre.objects.filter(
            Q(is_default=True) | Q(categories__in=category_ids)
        )
        .prefetch_related(None)
        .distinct()
        .order_by("pk")
    )
    if not centres:
        return None
    by_category: dict[int, FulfilmentCentre] = {}
    if category_ids:
        through = FulfilmentCentre.categories.through.objects.filter(
            category_id__in=category_ids,
            fulfilmentcentre_id__in=[c.pk for c in centres],
        ).order_by("fulfilmentcentre_id")
        by_pk = {c.pk: c for c in centres}
        for row in through:
            by_category.setdefault(row.category_id, by_pk[row.fulfilmentcentre_id])
    for category_id in category_ids:
        if category_id in by_category:
            return by_category[category_id]
    return next((c for c in centres if c.is_default), None)


def _clean_photo(photo: UploadedFile | CleanedPhoto, *, field_name: str) -> ContentFile:
    """The photo decoded, checked (JPEG, PNG or WebP; at most PHOTO_MAX_BYTES and
    config.photos.MAX_PIXELS, counted from the header before anything is
    decompressed) and re-encoded without its metadata (EXIF with the GPS position
    where it was taken, camera serials) under a random name. Cleaned once: a
    CleanedPhoto is taken as it is (re-encoding would cost quality and time, and a
    palette PNG that grew when cleaned would then fail the size limit)."""
    if isinstance(photo, CleanedPhoto):
        return photo.file
    try:
        cleaned = process_photo(photo, max_bytes=PHOTO_MAX_BYTES, thumbnail=False)
    except PhotoRejected as exc:
        raise ReturnNotEligible(exc.message, field=field_name) from exc
    return cleaned.image


def quote_return(
    *,
    order: Order,
    choices: list[LineChoice],
    at: datetime | None = None,
    window_exception: bool = False,
    eligibility: list[LineEligibility] | None = None,
) -> ReturnQuote:
    """What the customer gets and pays for the chosen lines, with the reasons in plain
    words. Raises ReturnNotEligible naming the line (`lines.<n>.<field>`). Reads only:
    a constant number of queries whatever the number of lines."""
    at = at or timezone.now()
    if not choices:
        raise ReturnNotEligible(_("Choose at least one item to return."), field="lines")
    eligibility = eligibility or eligibility_for_order(order, at=at)
    by_line = {e.order_line.pk: e for e in eligibility}
    reasons = {
        r.code: r
        for r in ReturnReason.objects.filter(
            code__in={c.reason_code for c in choices}, active=True
        )
    }
    config = ReturnsSettings.load()
    seen: set[int] = set()
    picked: list[
        tuple[int, LineChoice, LineEligibility, ReturnReason, ContentFile | None]
    ] = []
    for n, choice in enumerate(choices):
        prefix = f"lines.{n}"
        item = by_line.get(choice.order_line_id)
        if item is None:
            raise ReturnNotEligible(
                _("This item is not part of the order."), field=f"{prefix}.order_line"
            )
        if choice.order_line_id in seen:
            raise ReturnNotEligible(
                _("This item is listed twice."), field=f"{prefix}.order_line"
            )
        seen.add(choice.order_line_id)
        if not item.eligible and not (window_exception and item.outside_window):
            raise ReturnNotEligible(item.explanation, field=f"{prefix}.order_line")
        available = item.remaining_quantity
        if not 1 <= choice.quantity <= available:
            raise ReturnNotEligible(
                _("Choose a quantity from 1 to {n}.").format(n=available),
                field=f"{prefix}.quantity",
            )
        reason = reasons.get(choice.reason_code)
        if reason is None:
            raise ReturnNotEligible(
                _("Choose a reason from the list."), field=f"{prefix}.reason"
            )
        if choice.resolution not in item.policy.resolutions:
            raise ReturnNotEligible(
                _(
                    "This item's policy does not offer that. Choose one of: {options}."
                ).format(
                    options=", ".join(
                        str(Resolution(r).label) for r in item.policy.resolutions
                    )
                ),
                field=f"{prefix}.resolution",
            )
        photo = None
        if choice.photo is not None:
            photo = _clean_photo(choice.photo, field_name=f"{prefix}.photo")
        picked.append((n, choice, item, reason, photo))

    centre = route_centre([item.order_line.product for _n, _c, item, _r, _p in picked])
    currency = order.currency
    lines: list[QuoteLine] = []
    for _n, choice, item, reason, photo in picked:
        policy = item.policy
        fault = reason.controllable
        value = costs.cents(item.order_line.unit_price * choice.quantity)
        money = costs.line_money(
            policy, value=value, resolution=choice.resolution, shop_at_fault=fault
        )
        estimated = costs.estimated_return_cost(
            policy, centre, config, shop_at_fault=fault
        )
        returnless = (
            choice.resolution in costs.RETURNLESS_RESOLUTIONS
            and policy.returnless_applies(value, estimated)
        )
        explanations = []
        if returnless:
            explanations.append(
                _(
                    "Keep the item: sending it back would cost about {cost}, "
                    "too much for an item worth {value}."
                ).format(
                    cost=_money(estimated, currency), value=_money(value, currency)
                )
            )
        if money.restocking_fee:
            explanations.append(
                _(
                    "A restocking fee of {fee} ({percent} percent) applies because "
                    "the reason is not a fault of ours."
                ).format(
                    fee=_money(money.restocking_fee, currency),
                    percent=f"{policy.restocking_fee_percent.normalize():f}",
                )
            )
        elif (
            fault
            and policy.restocking_fee_percent
            and choice.resolution in (costs.MONEY_RESOLUTIONS)
        ):
            explanations.append(
                _(
                    "No restocking fee: the reason is our fault. If the inspection "
                    "finds otherwise, the usual fee of {percent} percent applies."
                ).format(percent=f"{policy.restocking_fee_percent.normalize():f}")
            )
        if choice.resolution == Resolution.STORE_CREDIT and (
            policy.store_credit_bonus_percent
        ):
            explanations.append(
                _("Store credit includes a {percent} percent bonus.").format(
                    percent=f"{policy.store_credit_bonus_percent.normalize():f}"
                )
            )
        lines.append(
            QuoteLine(
                choice=choice,
                order_line=item.order_line,
                reason=reason,
                policy=policy,
                quantity=choice.quantity,
                resolution=choice.resolution,
                shop_at_fault=fault,
                unit_value=item.order_line.unit_price,
                value=value,
                restocking_fee=money.restocking_fee,
                refund_amount=money.refund_amount,
                store_credit_amount=money.store_credit_amount,
                estimated_cost=estimated,
                returnless=returnless,
                outside_window=item.outside_window,
                explanations=explanations,
                photo=photo,
            )
        )

    shipped = [line for line in lines if not line.returnless]
    explanations: list[str] = []
    if not shipped:
        payer, shipping_cost, label_cost = Payer.NONE, ZERO, ZERO
        explanations.append(_("Nothing needs to be sent back."))
    else:
        # One parcel: the shop pays when any item in it is the shop's fault.
        fault = any(line.shop_at_fault for line in shipped)
        label_cost = max(
            costs.return_shipping_cost(line.policy, centre, shop_at_fault=fault)
            for line in shipped
        )
        payer, shipping_cost = costs.parcel_shipping(
            [line.policy for line in shipped], shop_at_fault=fault
        )
        if payer == Payer.SHOP and fault:
            explanations.append(_("Return shipping is free: the reason is our fault."))
        elif payer == Payer.SHOP:
            explanations.append(_("Return shipping is free."))
        else:
            explanations.append(
                _(
                    "Return shipping costs you {cost}, because the reason is not a "
                    "fault of ours."
                ).format(cost=_money(shipping_cost, currency))
            )
    return ReturnQuote(
        order=order,
        lines=lines,
        currency=currency,
        centre=centre,
        needs_shipping=bool(shipped),
        shipping_paid_by=payer,
        shipping_cost=shipping_cost,
        label_cost=label_cost,
        handling_cost=costs.cents(config.handling_cost) if shipped else ZERO,
        value_total=sum((line.value for line in lines), ZERO),
        refund_total=sum((line.refund_amount for line in lines), ZERO),
        store_credit_total=sum((line.store_credit_amount for line in lines), ZERO),
        restocking_fee_total=sum((line.restocking_fee for line in lines), ZERO),
        explanations=explanations,
    )


# Filing --------------------------------------------------------------------------------


def new_rma() -> str:
    def part() -> str:
        return "".join(secrets.choice(RMA_ALPHABET) for _ in range(4))

    return f"R-{part()}-{part()}"


def _is_staff(user) -> bool:
    return bool(user and getattr(user, "is_staff", False))


def _check_owner(user, customer_user_id: int | None) -> None:
    if user is None or isinstance(user, AnonymousUser) or _is_staff(user):
        return
    if customer_user_id is None or customer_user_id != user.pk:
        raise NotYourReturn()


def _actor(by) -> str:
    if by is None:
        return Actor.CUSTOMER
    return Actor.STAFF if _is_staff(by) else Actor.CUSTOMER


def _event(
    request: ReturnRequest,
    *,
    kind: str,
    actor: str,
    from_status: str = "",
    to_status: str = "",
    by=None,
    centre: FulfilmentCentre | None = None,
    note: str = "",
    data: dict | None = None,
    external_id: str = "",
    at: datetime | None = None,
) -> ReturnEvent:
    return ReturnEvent.objects.create(
        request=request,
        kind=kind,
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        by=by if by is not None and getattr(by, "pk", None) else None,
        centre=centre,
        note=note,
        data=data or {},
        external_id=external_id,
        occurred_at=at or timezone.now(),
    )


def submit_return(
    *,
    order: Order,
    choices: list[LineChoice],
    channel: str,
    idempotency_key: str,
    by_user=None,
    at: datetime | None = None,
    window_exception: bool = False,
) -> ReturnRequest:
    """File a return: once per idempotency key (a repeat, also a concurrent one, gets
    the first return back). Locks the order's lines so two returns at once cannot
    return more than was bought. Routes the parcel, approves at once unless a rule
    holds it for the returns team, writes the events and e-mails. `window_exception`
    (staff only) accepts lines outside the return window; such a return always waits
    for approval."""
    at = at or timezone.now()
    if not idempotency_key:
        raise ReturnsError(_("The form expired; please try again."), field="key")
    if window_exception and not _is_staff(by_user):
        raise ReturnNotEligible(
            _("Only the returns team can make an exception."), field="window_exception"
        )
    _check_owner(by_user, order.customer.user_id)
    with transaction.atomic():
        lines = list(
            OrderLine.objects.select_for_update()
            .filter(order=order)
            .select_related("product")
            .order_by("pk")
        )
        existing = ReturnRequest.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            if existing.order_id != order.pk:
                raise ReturnsError(
                    _("The form expired; please try again."), field="key"
                )
            return existing
        eligibility = eligibility_for_order(order, at=at, lines=lines)
        quote = quote_return(
            order=order,
            choices=choices,
            at=at,
            window_exception=window_exception,
            eligibility=eligibility,
        )
        request = _create_request(
            order=order,
            quote=quote,
            channel=Channel.STAFF
            if _is_staff(by_user) and channel != Channel.QR
            else channel,
            idempotency_key=idempotency_key,
            window_exception=window_exception
            and any(line.outside_window for line in quote.lines),
            at=at,
        )
        if request is None:  # a concurrent submit with the same key won
            return ReturnRequest.objects.get(idempotency_key=idempotency_key)
        _announce(signals.return_filed, request)
        actor = _actor(by_user)
        _event(
            request,
            kind=EventKind.REQUESTED,
            actor=actor,
            to_status=ReturnStatus.REQUESTED,
            by=by_user,
            data={"channel": request.channel},
            at=at,
        )
        reasons = [reason for check in APPROVAL_CHECKS if (reason := check(request))]
        if reasons:
            request.needs_approval = True
            request.approval_reasons = reasons
            request.save(update_fields=["needs_approval", "approval_reasons"])
            _email(request, "return_requested")
        else:
            _approve(request, by=None, actor=Actor.SYSTEM, note="", at=at)
    return request


def _create_request(
    *,
    order: Order,
    quote: ReturnQuote,
    channel: str,
    idempotency_key: str,
    window_exception: bool,
    at: datetime,
) -> ReturnRequest | None:
    for _attempt in range(5):
        try:
            with transaction.atomic():
                request = ReturnRequest.objects.create(
                    rma=new_rma(),
                    order=order,
                    customer=order.customer,
                    centre=quote.centre,
                    channel=channel,
                    idempotency_key=idempotency_key,
                    window_exception=window_exception,
                    currency=quote.currency,
                    shipping_cost=quote.label_cost,
                    shipping_paid_by=quote.shipping_paid_by,
                    shipping_charge=quote.shipping_cost,
                    handling_cost=quote.handling_cost,
                    created_at=at,
                )
        except IntegrityError:
            if ReturnRequest.objects.filter(idempotency_key=idempotency_key).exists():
                return None
            continue  # RMA collision: draw again
        break
    else:  # pragma: no cover  (five collisions in a 30^8 space)
        raise ReturnsError()
    created = ReturnLine.objects.bulk_create(
        [
            ReturnLine(
                request=request,
                order_line=line.order_line,
                quantity=line.quantity,
                reason=line.reason,
                comment=line.choice.comment.strip(),
                prevention=line.choice.prevention.strip(),
                requested_resolution=line.resolution,
                returnless=line.returnless,
                disposition=Disposition.KEEP if line.returnless else "",
                unit_value=line.unit_value,
                refund_amount=line.refund_amount,
                restocking_fee=line.restocking_fee,
                store_credit_amount=line.store_credit_amount,
                policy=line.policy.to_json(),
            )
            for line in quote.lines
        ]
    )
    for line, quoted in zip(created, quote.lines, strict=True):
        if quoted.photo is not None:
            ReturnPhoto.objects.create(line=line, image=quoted.photo, cleaned=True)
    return request


# Transitions ---------------------------------------------------------------------------


def _lock(request: ReturnRequest) -> ReturnRequest:
    locked = ReturnRequest.objects.select_for_update().get(pk=request.pk)
    request.__dict__.update(
        {k: v for k, v in locked.__dict__.items() if not k.startswith("_")}
    )
    return request


# Moves after which a return counts differently in the analytics.
COUNTED_ENDS = frozenset(
    {ReturnStatus.RESOLVED, ReturnStatus.REJECTED, ReturnStatus.CANCELLED}
)


def _announce(signal, request: ReturnRequest) -> None:
    """Send `signal` once the current transaction commits (never for a rollback).
    Robust: a receiver that fails (its broker is down) is logged, and neither turns
    the committed change into an error nor stops the e-mail and webhook kicks."""
    request_id, customer_id = request.pk, request.customer_id
    transaction.on_commit(
        lambda: signal.send(
            sender=ReturnRequest, request_id=request_id, customer_id=customer_id
        ),
        robust=True,
    )


def _move(
    request: ReturnRequest,
    to: str,
    *,
    kind: str,
    actor: str,
    by=None,
    centre: FulfilmentCentre | None = None,
    note: str = "",
    data: dict | None = None,
    external_id: str = "",
    at: datetime | None = None,
    extra_fields: dict | None = None,
) -> ReturnEvent:
    """Lock, check the move is allowed, save the new status and write the event."""
    at = at or timezone.now()
    _lock(request)
    if to not in ALLOWED_TRANSITIONS[request.status]:
        raise IllegalTransition(
            _("A return that is “{status}” cannot become “{to}”.").format(
                status=ReturnStatus(request.status).label,
                to=ReturnStatus(to).label,
            ),
            field="status",
        )
    previous = request.status
    request.status = to
    if to in COUNTED_ENDS:
        _announce(signals.return_resolved, request)
    fields = ["status", "updated_at"]
    for name, value in (extra_fields or {}).items():
        setattr(request, name, value)
        fields.append(name)
    request.save(update_fields=fields)
    return _event(
        request,
        kind=kind,
        actor=actor,
        from_status=previous,
        to_status=to,
        by=by,
        centre=centre,
        note=note,
        data=data,
        external_id=external_id,
        at=at,
    )


def _check_centre(request: ReturnRequest, centre: FulfilmentCentre | None) -> None:
    if centre is not None and request.centre_id != centre.pk:
        raise UnknownReturn()


def _approve(request, *, by, actor, note, at) -> ReturnRequest:
    _move(
        request,
        ReturnStatus.APPROVED,
        kind=EventKind.APPROVED,
        actor=actor,
        by=by,
        note=note,
        at=at,
    )
    _webhook(request, "return.approved", at=at)
    _email(request, "return_approved")
    return request


def approve(
    *, request: ReturnRequest, by=None, note: str = "", at: datetime | None = None
) -> ReturnRequest:
    """The returns team lets a held return go ahead."""
    with transaction.atomic():
        return _approve(request, by=by, actor=_staff_actor(by), note=note, at=at)


def _staff_actor(by) -> str:
    return Actor.STAFF if by is not None else Actor.SYSTEM


def reject(
    *,
    request: ReturnRequest,
    reason: str,
    by=None,
    note: str = "",
    at: datetime | None = None,
) -> ReturnRequest:
    reason = (reason or "").strip()
    if not reason:
        raise ReturnsError(
            _("Say why the return is rejected; the customer reads it."), field="reason"
        )
    with transaction.atomic():
        _move(
            request,
            ReturnStatus.REJECTED,
            kind=EventKind.REJECTED,
            actor=_staff_actor(by),
            by=by,
            note=note or reason,
            at=at,
            extra_fields={"rejection_reason": reason},
        )
        _email(request, "return_rejected")
    return request


def mark_in_transit(
    *,
    request: ReturnRequest,
    by=None,
    centre: FulfilmentCentre | None = None,
    note: str = "",
    tracking: str = "",
    at: datetime | None = None,
) -> ReturnRequest:
    with transaction.atomic():
        _check_centre(request, centre)
        if by is not None and not _is_staff(by):
            _check_owner(by, request.customer.user_id)
        _move(
            request,
            ReturnStatus.IN_TRANSIT,
            kind=EventKind.IN_TRANSIT,
            actor=Actor.CENTRE if centre else _actor(by) if by else Actor.SYSTEM,
            by=by,
            centre=centre,
            note=note,
            data={"tracking": tracking} if tracking else {},
            at=at,
        )
    return request


def _lines_by_id(request: ReturnRequest) -> dict[int, ReturnLine]:
    return {
        line.pk: line
        for line in request.lines.select_related(
            "reason", "confirmed_reason", "order_line__product"
        )
    }


def _unknown_line(line_id) -> ReturnsError:
    return ReturnsError(
        _("Line {line} is not part of this return.").format(line=line_id),
        field="lines",
    )


def _check_choice(value: str, choices, field_name: str) -> str:
    if value not in choices.values:
        raise ReturnsError(
            _("Choose one of: {options}.").format(options=", ".join(choices.values)),
            field=field_name,
        )
    return value


def receive(
    *,
    request: ReturnRequest,
    conditions: dict | None = None,
    by=None,
    centre: FulfilmentCentre | None = None,
    note: str = "",
    external_id: str = "",
    at: datetime | None = None,
) -> ReturnRequest:
    """The parcel arrived: record each line's condition ({line_id: condition}) and the
    return's actual shipping and handling costs."""
    conditions = {int(k): v for k, v in (conditions or {}).items()}
    with transaction.atomic():
        _check_centre(request, centre)
        _lock(request)
        lines = _lines_by_id(request)
        for line_id, condition in conditions.items():
            if line_id not in lines:
                raise _unknown_line(line_id)
            _check_choice(condition, Condition, f"lines.{line_id}.condition")
        _move(
            request,
            ReturnStatus.RECEIVED,
            kind=EventKind.RECEIVED,
            actor=Actor.CENTRE if centre else _staff_actor(by),
            by=by,
            centre=centre,
            note=note,
            data={"conditions": {str(k): v for k, v in conditions.items()}},
            external_id=external_id,
            at=at,
            extra_fields={
                "handling_cost": costs.cents(ReturnsSettings.load().handling_cost)
            },
        )
        for line_id, condition in conditions.items():
            lines[line_id].condition = condition
        ReturnLine.objects.bulk_update(list(lines.values()), ["condition"])
        _webhook(request, "return.received", at=at)
        _email(request, "return_received")
    return request


def inspect(
    *,
    request: ReturnRequest,
    findings: dict,
    by=None,
    centre: FulfilmentCentre | None = None,
    note: str = "",
    external_id: str = "",
    at: datetime | None = None,
) -> ReturnRequest:
    """The inspector's findings per line: {line_id: {"confirmed_reason": code,
    "condition": ..., "disposition": ...}} (each optional). A confirmed reason decides
    the fees from now on."""
    findings = {int(k): v or {} for k, v in (findings or {}).items()}
    with transaction.atomic():
        _check_centre(request, centre)
        _lock(request)
        lines = _lines_by_id(request)
        codes = {
            f["confirmed_reason"]
            for f in findings.values()
            if f.get("confirmed_reason")
        }
        reasons = {r.code: r for r in ReturnReason.objects.filter(code__in=codes)}
        for line_id, finding in findings.items():
            if line_id not in lines:
                raise _unknown_line(line_id)
            code = finding.get("confirmed_reason")
            if code and code not in reasons:
                raise ReturnsError(
                    _("Unknown reason “{code}”.").format(code=code),
                    field=f"lines.{line_id}.confirmed_reason",
                )
            if finding.get("condition"):
                _check_choice(
                    finding["condition"], Condition, f"lines.{line_id}.condition"
                )
            if finding.get("disposition"):
                _check_choice(
                    finding["disposition"], Disposition, f"lines.{line_id}.disposition"
                )
        _move(
            request,
            ReturnStatus.INSPECTED,
            kind=EventKind.INSPECTED,
            actor=Actor.CENTRE if centre else _staff_actor(by),
            by=by,
            centre=centre,
            note=note,
            data={"findings": {str(k): v for k, v in findings.items()}},
            external_id=external_id,
            at=at,
        )
        for line_id, finding in findings.items():
            line = lines[line_id]
            if finding.get("confirmed_reason"):
                line.confirmed_reason = reasons[finding["confirmed_reason"]]
            if finding.get("condition"):
                line.condition = finding["condition"]
            if finding.get("disposition"):
                line.disposition = finding["disposition"]
        _reprice(request, list(lines.values()))
    return request


def record_disposition(
    *,
    request: ReturnRequest,
    dispositions: dict,
    by=None,
    centre: FulfilmentCentre | None = None,
    note: str = "",
    external_id: str = "",
    at: datetime | None = None,
) -> ReturnRequest:
    """What happens to each item ({line_id: disposition}); no change of status. Allowed
    once received and until closed."""
    dispositions = {int(k): v for k, v in (dispositions or {}).items()}
    with transaction.atomic():
        _check_centre(request, centre)
        _lock(request)
        if request.status not in (
            ReturnStatus.RECEIVED,
            ReturnStatus.INSPECTED,
            ReturnStatus.RESOLVED,
        ):
            raise IllegalTransition(
                _("A disposition can be recorded once the return is received."),
                field="status",
            )
        lines = _lines_by_id(request)
        for line_id, disposition in dispositions.items():
            if line_id not in lines:
                raise _unknown_line(line_id)
            _check_choice(disposition, Disposition, f"lines.{line_id}.disposition")
        for line_id, disposition in dispositions.items():
            lines[line_id].disposition = disposition
        _reprice(request, list(lines.values()))
        _event(
            request,
            kind=EventKind.DISPOSITION,
            actor=Actor.CENTRE if centre else _staff_actor(by),
            from_status=request.status,
            to_status=request.status,
            by=by,
            centre=centre,
            note=note,
            data={"dispositions": {str(k): v for k, v in dispositions.items()}},
            external_id=external_id,
            at=at,
        )
    return request


def _reprice(request: ReturnRequest, lines: list[ReturnLine]) -> None:
    """Fees and amounts by each line's effective (confirmed, else stated) reason, the
    value recovered by its disposition, and the return's totals. Before resolution."""
    config = ReturnsSettings.load()
    for line in lines:
        if line.executed_at is None:
            policy = PolicyRules.from_json(line.policy)
            money = costs.line_money(
                policy,
                value=line.line_value,
                resolution=line.resolution or line.requested_resolution,
                shop_at_fault=line.effective_reason.controllable,
            )
            line.restocking_fee = money.restocking_fee
            line.refund_amount = money.refund_amount
            line.store_credit_amount = money.store_credit_amount
        line.value_recovered = costs.value_recovered(
            disposition=line.disposition, value=line.line_value, settings=config
        )
    ReturnLine.objects.bulk_update(
        lines,
        [
            "confirmed_reason",
            "condition",
            "disposition",
            "restocking_fee",
            "refund_amount",
            "store_credit_amount",
            "value_recovered",
        ],
    )
    shipped = [line for line in lines if not line.returnless]
    if shipped:
        fault = any(line.effective_reason.controllable for line in shipped)
        request.shipping_paid_by, request.shipping_charge = costs.parcel_shipping(
            [PolicyRules.from_json(line.policy) for line in shipped],
            shop_at_fault=fault,
        )
    request.value_recovered = sum((line.value_recovered for line in lines), ZERO)
    request.save(
        update_fields=[
            "shipping_paid_by",
            "shipping_charge",
            "value_recovered",
            "updated_at",
        ]
    )


def resolve(
    *,
    request: ReturnRequest,
    by=None,
    resolutions: dict | None = None,
    note: str = "",
    at: datetime | None = None,
) -> ReturnRequest:
    """Execute each line's resolution exactly once: refund (in the shop's
    `return.resolved` webhook with the amount), store credit (through loyalty, with
    the policy's bonus), exchange and repair (a webhook request each). `resolutions`
    ({line_id: resolution}) lets staff change a line's resolution to another its
    policy offers. A second call is refused (IllegalTransition) and pays nothing."""
    at = at or timezone.now()
    changes = {int(k): v for k, v in (resolutions or {}).items()}
    with transaction.atomic():
        _lock(request)
        lines = _lines_by_id(request)
        if request.status == ReturnStatus.APPROVED and not all(
            line.returnless for line in lines.values()
        ):
            raise IllegalTransition(
                _("Items still have to come back before the return is resolved."),
                field="status",
            )
        for line_id, resolution in changes.items():
            if line_id not in lines:
                raise _unknown_line(line_id)
            offered = PolicyRules.from_json(lines[line_id].policy).resolutions
            if resolution not in offered:
                raise ReturnsError(
                    _("This item's policy does not offer that."),
                    field=f"lines.{line_id}.resolution",
                )
            lines[line_id].resolution = resolution
        _move(
            request,
            ReturnStatus.RESOLVED,
            kind=EventKind.RESOLVED,
            actor=_staff_actor(by),
            by=by,
            note=note,
            at=at,
        )
        for line in lines.values():
            if not line.resolution:
                line.resolution = line.requested_resolution
        _reprice(request, list(lines.values()))
        _execute(request, list(lines.values()), by=by, at=at)
        _email(request, "return_resolved")
        if ReturnsSettings.load().satisfaction_survey:
            _email(request, "return_satisfaction")
    return request


def _execute(request: ReturnRequest, lines: list[ReturnLine], *, by, at) -> None:
    pending = [line for line in lines if line.executed_at is None]
    refunded = []
    for line in pending:
        if line.resolution == Resolution.STORE_CREDIT and line.store_credit_amount > 0:
            loyalty.credit_store(
                customer=request.customer,
                amount=line.store_credit_amount,
                currency=request.currency,
                key=f"return:{request.rma}:{line.pk}",
                reason=f"Return {request.rma}",
                by=by if _is_staff(by) else None,
                now=at,
            )
        elif line.resolution in (Resolution.EXCHANGE, Resolution.REPAIR):
            event = (
                "return.exchange_requested"
                if line.resolution == Resolution.EXCHANGE
                else "return.repair_requested"
            )
            _webhook(
                request,
                event,
                key=f"{event}:{request.rma}:{line.pk}",
                extra={"line": _line_payload(line)},
                at=at,
            )
        elif line.resolution == Resolution.REFUND:
            refunded.append(line)
        line.executed_at = at
    ReturnLine.objects.bulk_update(pending, ["resolution", "executed_at"])
    request.refund_total = sum(
        (line.refund_amount for line in lines if line.resolution == Resolution.REFUND),
        ZERO,
    )
    request.store_credit_total = sum(
        (
            line.store_credit_amount
            for line in lines
            if line.resolution == Resolution.STORE_CREDIT
        ),
        ZERO,
    )
    request.restocking_fee_total = sum((line.restocking_fee for line in lines), ZERO)
    request.resolved_at = at
    request.save(
        update_fields=[
            "refund_total",
            "store_credit_total",
            "restocking_fee_total",
            "resolved_at",
            "updated_at",
        ]
    )
    _webhook(
        request,
        "return.resolved",
        extra={
            "refund_amount": str(request.refund_total),
            "store_credit_amount": str(request.store_credit_total),
            "restocking_fee": str(request.restocking_fee_total),
            "customer_pays_shipping": request.shipping_paid_by == Payer.CUSTOMER,
            "shipping_charge": str(request.shipping_charge),
        },
        at=at,
    )


def close(
    *, request: ReturnRequest, by=None, note: str = "", at: datetime | None = None
) -> ReturnRequest:
    with transaction.atomic():
        _move(
            request,
            ReturnStatus.CLOSED,
            kind=EventKind.CLOSED,
            actor=_staff_actor(by),
            by=by,
            note=note,
            at=at,
        )
    return request


def cancel(
    *, request: ReturnRequest, by=None, note: str = "", at: datetime | None = None
) -> ReturnRequest:
    """The customer (or staff) withdraws a return that has not arrived yet; its
    quantities can be returned again."""
    with transaction.atomic():
        _check_owner(by, request.customer.user_id)
        _move(
            request,
            ReturnStatus.CANCELLED,
            kind=EventKind.CANCELLED,
            actor=_actor(by),
            by=by,
            note=note,
            at=at,
        )
    return request


def record_satisfaction(
    *, request: ReturnRequest, score: int, at: datetime | None = None
) -> ReturnRequest:
    """The customer's 1–5 score for the return experience; a later click replaces an
    earlier one."""
    at = at or timezone.now()
    if not isinstance(score, int) or not 1 <= score <= 5:
        raise ReturnsError(_("Give a score from 1 to 5."), field="score")
    with transaction.atomic():
        _lock(request)
        if request.status not in (ReturnStatus.RESOLVED, ReturnStatus.CLOSED):
            raise IllegalTransition(
                _("You can rate a return once it is resolved."), field="score"
            )
        if request.satisfaction_score == score:
            return request
        request.satisfaction_score = score
        request.satisfaction_at = at
        request.save(update_fields=["satisfaction_score", "satisfaction_at"])
        _event(
            request,
            kind=EventKind.SATISFACTION,
            actor=Actor.CUSTOMER,
            from_status=request.status,
            to_status=request.status,
            data={"score": score},
            at=at,
        )
    return request


# Centre reports ------------------------------------------------------------------------

CENTRE_KINDS = ("received", "inspected", "disposition")


def centre_event(
    *,
    centre: FulfilmentCentre,
    rma: str,
    event_id: str,
    kind: str,
    lines: list[dict] | None = None,
    note: str = "",
    at: datetime | None = None,
) -> tuple[ReturnEvent, bool]:
    """A centre reports on a return routed to it. Idempotent by the centre's
    `event_id`: a replay returns the first event (and `False`) and changes nothing.
    `lines`: [{"line_id", "condition", "confirmed_reason", "disposition"}]."""
    event_id = (event_id or "").strip()
    if not event_id:
        raise ReturnsError(_("Give the event an id."), field="event_id")
    if kind not in CENTRE_KINDS:
        raise ReturnsError(
            _("Choose one of: {options}.").format(options=", ".join(CENTRE_KINDS)),
            field="kind",
        )
    previous = ReturnEvent.objects.filter(centre=centre, external_id=event_id).first()
    if previous is not None:
        return _replayed(previous, rma=rma, kind=kind)
    request = ReturnRequest.objects.filter(rma=rma, centre=centre).first()
    if request is None:
        raise UnknownReturn()
    by_line: dict[int, dict] = {}
    for n, item in enumerate(lines or []):
        try:
            by_line[int(item["line_id"])] = item
        except (KeyError, TypeError, ValueError) as exc:
            raise ReturnsError(
                _("Each line needs its line_id."), field=f"lines.{n}.line_id"
            ) from exc
    try:
        with transaction.atomic():
            common = {
                "request": request,
                "centre": centre,
                "note": note,
                "external_id": event_id,
                "at": at,
            }
            if kind == "received":
                receive(
                    conditions={
                        k: v["condition"]
                        for k, v in by_line.items()
                        if v.get("condition")
                    },
                    **common,
                )
            elif kind == "inspected":
                inspect(
                    findings={
                        k: {
                            name: v[name]
                            for name in ("confirmed_reason", "condition", "disposition")
                            if v.get(name)
                        }
                        for k, v in by_line.items()
                    },
                    **common,
                )
            else:
                record_disposition(
                    dispositions={
                        k: v["disposition"]
                        for k, v in by_line.items()
                        if v.get("disposition")
                    },
                    **common,
                )
    except IntegrityError:
        previous = ReturnEvent.objects.filter(
            centre=centre, external_id=event_id
        ).first()
        if previous is None:
            raise
        return _replayed(previous, rma=rma, kind=kind)
    return ReturnEvent.objects.get(centre=centre, external_id=event_id), True


def _replayed(event: ReturnEvent, *, rma: str, kind: str) -> tuple[ReturnEvent, bool]:
    if event.request.rma != rma or event.kind != kind:
        raise EventConflict(field="event_id")
    return event, False


# Webhooks and e-mails ------------------------------------------------------------------


def _line_payload(line: ReturnLine) -> dict:
    order_line = line.order_line
    return {
        "line_id": line.pk,
        "order_line_external_id": order_line.external_id,
        "sku": order_line.product.sku,
        "quantity": line.quantity,
        "resolution": line.resolution or line.requested_resolution,
        "returnless": line.returnless,
        "refund_amount": str(line.refund_amount),
        "restocking_fee": str(line.restocking_fee),
        "store_credit_amount": str(line.store_credit_amount),
        "condition": line.condition,
        "disposition": line.disposition,
    }


def _webhook(
    request: ReturnRequest,
    event: str,
    *,
    key: str = "",
    extra: dict | None = None,
    at: datetime | None = None,
) -> None:
    from returns import outbound

    order = request.order
    payload = {
        "rma": request.rma,
        "status": request.status,
        "order": {
            "number": order.number,
            "external_id": order.external_id,
            "source": order.source,
        },
        "customer_email": request.customer.email,
        "currency": request.currency,
        **(extra or {}),
    }
    if "line" not in payload:
        payload["lines"] = [
            _line_payload(line)
            for line in request.lines.select_related("order_line__product")
        ]
    outbound.queue_webhook(
        key=key or f"{event}:{request.rma}",
        event=event,
        payload=payload,
        request=request,
        now=at,
    )


def _email(request: ReturnRequest, template: str) -> None:
    """One e-mail per step and return (`<template>:<rma>` is the outbox key)."""
    customer = request.customer
    language = customer.language
    with translation.override(language):
        context = {
            "first_name": customer.first_name,
            "rma": request.rma,
            "order_number": request.order.number,
            "status_url": site_url(links.status_path(request, language=language)),
        }
        if template == "return_approved":
            context["slip_url"] = site_url(links.slip_path(request, language=language))
            context["needs_shipping"] = request.lines.filter(returnless=False).exists()
            if request.centre is not None:
                context["centre_address"] = request.centre.address
        elif template == "return_rejected":
            context["rejection_reason"] = request.rejection_reason
        elif template == "return_resolved":
            context["refund_total"] = (
                f"{request.currency} {request.refund_total:.2f}"
                if request.refund_total
                else ""
            )
            context["store_credit_total"] = (
                f"{request.currency} {request.store_credit_total:.2f}"
                if request.store_credit_total
                else ""
            )
            context["resolutions"] = sorted(
                {
                    str(Resolution(line.resolution).label)
                    for line in request.lines.all()
                    if line.resolution
                }
            )
        elif template == "return_satisfaction":
            context["score_urls"] = [
                {
                    "score": score,
                    "url": site_url(links.satisfaction_path(request, score=score)),
                }
                for score in range(1, 6)
            ]
    outbox.enqueue(
        key=f"{template.replace('_', '-')}:{request.rma}",
        to_email=customer.email,
        customer=customer,
        language=language,
        sender_label=f"{SENDER}:{template}",
        template=template,
        context=context,
    )


# Centre tokens -------------------------------------------------------------------------


def create_centre_token(
    *, centre: FulfilmentCentre, at: datetime | None = None
) -> tuple[FulfilmentCentre, str]:
    """Issue the centre a new API key (replacing any earlier one). The key is returned
    once; only its SHA-256 is stored."""
    key = secrets.token_urlsafe(32)
    with transaction.atomic():
        FulfilmentCentre.objects.filter(pk=centre.pk).update(
            key_hash=FulfilmentCentre.hash_key(key),
            key_prefix=key[:8],
            token_created_at=at or timezone.now(),
            revoked_at=None,
        )
    centre.refresh_from_db()
    return centre, key


def revoke_centre_token(
    *, centre: FulfilmentCentre, at: datetime | None = None
) -> FulfilmentCentre:
    """Stop the centre's API key working (at once; a new one can be issued)."""
    FulfilmentCentre.objects.filter(pk=centre.pk, revoked_at__isnull=True).update(
        revoked_at=at or timezone.now()
    )
    centre.refresh_from_db()
    return centre
