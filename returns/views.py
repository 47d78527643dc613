"""The returns portal: start a return (from My orders, the parcel's QR code, or as a
guest with order number + e-mail), choose lines, reasons, feedback and resolution, see
the quote, confirm; then the done page, the slip and the status page.

Who may see what. An order: its signed-in owner, or a visitor whose session holds it
(put there by a valid QR link or a guest lookup). A return: whoever holds its signed
status link, unless they are signed in as someone else. Anything else is a 404.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from allauth.account.adapter import get_adapter
from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from cms.return_links import InvalidReturnLink, order_for_return_token
from returns import services
from returns.eligibility import eligibility_for_order
from returns.forms import (
    CancelForm,
    ConfirmForm,
    GuestLookupForm,
    ReturnForm,
    shuffled_reasons,
)
from returns.links import (
    InvalidStatusLink,
    request_for_status_token,
    slip_path,
    status_path,
    status_token,
)
from returns.models import (
    Channel,
    Resolution,
    ReturnReason,
    ReturnRequest,
    ReturnStatus,
)
from returns.photos import DRAFT_PHOTOS
from returns.slip import render_slip
from shop.models import Order

ACCESS_KEY = "returns.orders"  # session: {order id: channel it was opened through}
DRAFT_KEY = "returns.draft"  # session: the return being put together
# Guest lookups allowed per hour: from one address, and for one order number.
GUEST_LOOKUPS_PER_IP = 20
GUEST_LOOKUPS_PER_ORDER = 5
GUEST_LOOKUP_WINDOW = 3600
SLIP_STATUSES = frozenset({ReturnStatus.APPROVED, ReturnStatus.IN_TRANSIT})


def _private(response: HttpResponse) -> HttpResponse:
    """Signed links and order data: not for search engines, and no Referer with a
    token in it for other sites ("no-referrer" would make browsers send `Origin:
    null` with the page's forms, which the CSRF check refuses)."""
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "same-origin"
    return response


# Access --------------------------------------------------------------------------------


def _grant(request, order: Order, channel: str) -> None:
    access = dict(request.session.get(ACCESS_KEY, {}))
    access[str(order.pk)] = channel
    request.session[ACCESS_KEY] = access


def _order_or_404(request, order_id: int) -> tuple[Order, str]:
    """The order and the channel it was opened through, if this visitor may see it."""
    order = Order.objects.select_related("customer").filter(pk=order_id).first()
    if order is None:
        raise Http404
    channel = request.session.get(ACCESS_KEY, {}).get(str(order.pk))
    if channel:
        return order, channel
    if request.user.is_authenticated and order.customer.user_id == request.user.pk:
        return order, Channel.ACCOUNT
    raise Http404


def _return_or_404(request, token: str) -> ReturnRequest:
    try:
        found = request_for_status_token(token)
    except InvalidStatusLink as exc:
        raise Http404 from exc
    owner = found.customer.user_id
    if request.user.is_authenticated and owner is not None and owner != request.user.pk:
        raise Http404
    return found


def _language() -> str:
    return translation.get_language() or settings.LANGUAGE_CODE


# Starting a return ---------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def portal(request):
    """Signed in: your returns. Everyone: find an order by number and e-mail."""
    if request.method == "POST":
        return _guest_lookup(request)
    return _portal_page(request, GuestLookupForm())


def _portal_page(request, form, status=200):
    returns = []
    if request.user.is_authenticated:
        returns = [
            (found, status_path(found, language=_language()))
            for found in ReturnRequest.objects.filter(customer__user=request.user)
            .select_related("customer", "order")
            .order_by("-created_at", "-pk")[:50]
        ]
    response = render(
        request,
        "returns/portal.html",
        {"form": form, "returns": returns},
        status=status,
    )
    return _private(response)


def _hit(key: str) -> int:
    """Count one more attempt under `key` for the window; the new count."""
    if cache.add(key, 1, timeout=GUEST_LOOKUP_WINDOW):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=GUEST_LOOKUP_WINDOW)
        return 1


def _guest_lookup(request):
    """Every attempt counts against the visitor's address; failed ones also against
    the order number, so guessing e-mail addresses for one order stops soon, from
    however many addresses."""
    form = GuestLookupForm(request.POST)
    if not form.is_valid():
        return _portal_page(request, form, status=400)
    number = form.cleaned_data["order_number"]
    email = form.cleaned_data["email"].strip().lower()
    ip = get_adapter(request).get_client_ip(request) or "unknown"
    order_key = f"returns:lookup:order:{number.lower()}"
    by_ip = _hit(f"returns:lookup:ip:{ip}") > GUEST_LOOKUPS_PER_IP
    if by_ip or cache.get(order_key, 0) >= GUEST_LOOKUPS_PER_ORDER:
        form.add_error(None, _("Too many attempts. Please try again in an hour."))
        return _portal_page(request, form, status=429)
    found = None
    candidates = list(
        Order.objects.select_related("customer").filter(number__iexact=number)[:10]
    )
    # Compare every candidate (and a dummy when there is none) the same way, so
    # neither the answer nor its timing tells which half was wrong.
    for order in candidates or [None]:
        address = order.customer.email.lower() if order else "-"
        if constant_time_compare(address, email) and order is not None:
            found = order
    if found is None:
        _hit(order_key)
        form.add_error(
            None,
            _(
                "We could not find an order with this number and e-mail address. "
                "Check both and try again."
            ),
        )
        return _portal_page(request, form, status=400)
    request.session.cycle_key()
    _grant(request, found, Channel.GUEST)
    return redirect("returns:choose", order_id=found.pk)


@never_cache
def start_from_link(request, token: str):
    """The QR code on the parcel's insert: opens the return for its order."""
    try:
        order = order_for_return_token(token)
    except InvalidReturnLink:
        return _private(render(request, "returns/start_invalid.html", status=404))
    owner = order.customer.user_id
    if request.user.is_authenticated and owner is not None and owner != request.user.pk:
        # Signed in as someone else: the status pages of the return would refuse
        # them (see _return_or_404), and the order is not theirs to open.
        messages.error(
            request,
            _("This return link is for another account. Sign out to use it."),
        )
        return _private(render(request, "returns/start_invalid.html", status=404))
    _grant(request, order, Channel.QR)
    return _choose_page(request, order, ReturnForm(**_form_kwargs(order)))


def _form_kwargs(order: Order) -> dict:
    lines = list(order.lines.select_related("product").order_by("pk"))
    return {
        "eligibility": eligibility_for_order(order, lines=lines),
        "reasons": shuffled_reasons(list(ReturnReason.objects.filter(active=True))),
    }


def _policy_groups(eligibility) -> list[dict]:
    groups: dict = {}
    for item in eligibility:
        policy = item.policy
        key = (policy.snapshot_id, policy.page_id) if policy else None
        group = groups.setdefault(
            key, {"policy": policy, "names": [], "deadline": item.deadline}
        )
        group["names"].append(item.order_line.product.name)
    return list(groups.values())


def _choose_page(request, order, form, status=200):
    shipped = bool(order.shipped_at or order.delivered_at)
    response = render(
        request,
        "returns/choose.html",
        {
            "order": order,
            "form": form,
            "lines": form.lines(),
            "groups": _policy_groups(form.eligibility),
            "shipped": shipped,
            "any_eligible": shipped and any(item.eligible for item in form.eligibility),
        },
        status=status,
    )
    return _private(response)


@never_cache
@require_http_methods(["GET", "POST"])
def choose(request, order_id: int):
    order, channel = _order_or_404(request, order_id)
    if request.method != "POST":
        return _choose_page(request, order, ReturnForm(**_form_kwargs(order)))
    form = ReturnForm(request.POST, request.FILES, **_form_kwargs(order))
    if not (order.shipped_at or order.delivered_at) or not form.is_valid():
        return _choose_page(request, order, form, status=400)
    chosen = form.cleaned_data["chosen"]
    try:
        quote = services.quote_return(
            order=order, choices=_line_choices(chosen), eligibility=form.eligibility
        )
    except services.ReturnsError as exc:
        form.add_error(_form_field(form, chosen, exc.field), exc.message)
        return _choose_page(request, order, form, status=400)
    _discard_draft(request)
    key = secrets.token_urlsafe(24)
    request.session[DRAFT_KEY] = {
        "order": order.pk,
        "key": key,
        "channel": channel,
        "lines": [
            _draft_line(key, line, quoted.photo)
            for line, quoted in zip(chosen, quote.lines, strict=True)
        ],
    }
    return redirect("returns:confirm", order_id=order.pk)


def _form_field(form, chosen, path: str) -> str | None:
    """The form field a service refusal names (`lines.<n>.<field>`), if any."""
    parts = (path or "").split(".")
    if len(parts) != 3 or parts[0] != "lines" or not parts[1].isdigit():
        return None
    index, name = int(parts[1]), parts[2]
    if index >= len(chosen):
        return None
    name = "quantity" if name == "order_line" else name
    field = f"{form.prefix_for(chosen[index].order_line_id)}-{name}"
    return field if field in form.fields else None


def _line_choices(chosen) -> list[services.LineChoice]:
    return [
        services.LineChoice(
            order_line_id=line.order_line_id,
            quantity=line.quantity,
            reason_code=line.reason_code,
            comment=line.comment,
            prevention=line.prevention,
            resolution=line.resolution,
            photo=line.photo,
        )
        for line in chosen
    ]


def _draft_line(key: str, line, cleaned) -> dict:
    """A chosen line kept in the session until it is confirmed; its photo (already
    cleaned by the quote: no metadata, a random name) waits in the media storage."""
    photo = ""
    if cleaned is not None:
        photo = default_storage.save(f"{DRAFT_PHOTOS}/{key}/{cleaned.name}", cleaned)
    return {
        "order_line_id": line.order_line_id,
        "quantity": line.quantity,
        "reason_code": line.reason_code,
        "comment": line.comment,
        "prevention": line.prevention,
        "resolution": line.resolution,
        "photo": photo,
    }


class DraftExpired(Exception):
    """The draft's photo is gone (purged as abandoned, returns/photos.py)."""


def _draft_choices(draft: dict) -> list[services.LineChoice]:
    choices = []
    for line in draft["lines"]:
        photo = None
        if line["photo"] and not default_storage.exists(line["photo"]):
            raise DraftExpired
        if line["photo"]:
            # Cleaned when the line was chosen, under a random name (_draft_line).
            with default_storage.open(line["photo"], "rb") as stored:
                photo = services.CleanedPhoto(
                    ContentFile(stored.read(), name=Path(line["photo"]).name)
                )
        choices.append(
            services.LineChoice(
                order_line_id=line["order_line_id"],
                quantity=line["quantity"],
                reason_code=line["reason_code"],
                comment=line["comment"],
                prevention=line["prevention"],
                resolution=line["resolution"],
                photo=photo,
            )
        )
    return choices


def _draft_expired(request, order):
    _discard_draft(request)
    messages.error(
        request,
        _("This return was left unconfirmed for too long. Please choose again."),
    )
    return redirect("returns:choose", order_id=order.pk)


def _discard_draft(request) -> None:
    draft = request.session.pop(DRAFT_KEY, None)
    for line in (draft or {}).get("lines", []):
        if line.get("photo"):
            default_storage.delete(line["photo"])


@never_cache
@require_http_methods(["GET", "POST"])
def confirm(request, order_id: int):
    order, _channel = _order_or_404(request, order_id)
    if request.method == "POST":
        return _submit(request, order)
    draft = request.session.get(DRAFT_KEY)
    if not draft or draft.get("order") != order.pk:
        return redirect("returns:choose", order_id=order.pk)
    eligibility = eligibility_for_order(
        order, lines=order.lines.select_related("product").order_by("pk")
    )
    try:
        quote = services.quote_return(
            order=order, choices=_draft_choices(draft), eligibility=eligibility
        )
    except services.ReturnsError as exc:
        messages.error(request, str(exc.message))
        return redirect("returns:choose", order_id=order.pk)
    except DraftExpired:
        return _draft_expired(request, order)
    deadlines = {item.order_line.pk: item.deadline for item in eligibility}
    response = render(
        request,
        "returns/confirm.html",
        {
            "order": order,
            "quote": quote,
            "rows": [
                (line, deadlines.get(line.order_line.pk), Resolution(line.resolution))
                for line in quote.lines
            ],
            "form": ConfirmForm(initial={"key": draft["key"]}),
        },
    )
    return _private(response)


def _submit(request, order):
    form = ConfirmForm(request.POST)
    if not form.is_valid():
        return redirect("returns:choose", order_id=order.pk)
    key = form.cleaned_data["key"]
    # A second click, or a reload after the first went through: the same return.
    done = ReturnRequest.objects.filter(order=order, idempotency_key=key).first()
    if done is None:
        draft = request.session.get(DRAFT_KEY)
        if not draft or draft.get("order") != order.pk or draft.get("key") != key:
            messages.error(
                request, _("This confirmation has expired. Please check your return.")
            )
            return redirect("returns:choose", order_id=order.pk)
        try:
            done = services.submit_return(
                order=order,
                choices=_draft_choices(draft),
                channel=draft["channel"],
                idempotency_key=key,
                by_user=request.user if draft["channel"] == Channel.ACCOUNT else None,
            )
        except services.ReturnsError as exc:
            messages.error(request, str(exc.message))
            return redirect("returns:choose", order_id=order.pk)
        except DraftExpired:
            return _draft_expired(request, order)
        _discard_draft(request)
    return redirect("returns:done", token=status_token(done))


# After filing --------------------------------------------------------------------------


def _return_context(found: ReturnRequest, token: str) -> dict:
    lines = list(
        found.lines.select_related("order_line__product", "reason").order_by("pk")
    )
    ships = any(not line.returnless for line in lines)
    return {
        "found": found,
        "token": token,
        "lines": lines,
        "ships": ships,
        "slip_url": (
            slip_path(found, language=_language())
            if ships and found.status in SLIP_STATUSES and found.centre_id
            else ""
        ),
    }


@never_cache
def done(request, token: str):
    found = _return_or_404(request, token)
    return _private(render(request, "returns/done.html", _return_context(found, token)))


@never_cache
def status(request, token: str):
    found = _return_or_404(request, token)
    context = _return_context(found, token)
    context["events"] = list(found.events.all())
    context["cancel_form"] = CancelForm() if found.can_cancel else None
    return _private(render(request, "returns/status.html", context))


@never_cache
@require_POST
def cancel(request, token: str):
    found = _return_or_404(request, token)
    form = CancelForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Tick the box to confirm that you want to cancel."))
    else:
        try:
            owner = found.customer.user_id
            services.cancel(
                request=found,
                by=request.user if owner and owner == request.user.pk else None,
            )
        except services.ReturnsError as exc:
            messages.error(request, str(exc.message))
        else:
            messages.success(request, _("Your return is cancelled."))
    return redirect("returns:status", token=token)


def slip(request, token: str):
    found = _return_or_404(request, token)
    context = _return_context(found, token)
    if not context["slip_url"]:
        raise Http404
    centre = found.centre
    language = _language()
    pdf = render_slip(
        rma=found.rma,
        order_number=found.order.number,
        customer_name=found.customer.full_name or found.customer.email,
        centre_name=centre.name,
        centre_address=centre.address,
        lines=[
            (
                line.order_line.product.name,
                line.order_line.product.sku,
                line.quantity,
                line.reason.label,
            )
            for line in context["lines"]
            if not line.returnless
        ],
        language=language,
        status_url=request.build_absolute_uri(reverse("returns:status", args=[token])),
    )
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="return-slip-{found.rma}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return _private(response)
