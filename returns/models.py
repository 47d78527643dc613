"""Returns: reasons, fulfilment centres, return requests with their lines, photos and
event log, the outbound webhooks to the shop, and the returns team's settings.

A ReturnRequest moves through an explicit state machine (`ALLOWED_TRANSITIONS`); each
move is one service in returns/services.py and writes one ReturnEvent.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel, MultiFieldPanel
from wagtail.contrib.settings.models import BaseGenericSetting, register_setting

from shop.models import Category, Customer, Order, OrderLine

ZERO = Decimal("0.00")


def _money(verbose_name, **kwargs):
    kwargs.setdefault("default", ZERO)
    return models.DecimalField(verbose_name, max_digits=12, decimal_places=2, **kwargs)


# Reasons -------------------------------------------------------------------------------


class FixArea(models.TextChoices):
    DESCRIPTION = "description", _("Product description")
    PACKAGING = "packaging", _("Packaging")
    FULFILMENT = "fulfilment", _("Fulfilment")
    QUALITY = "quality", _("Quality")
    DELIVERY = "delivery", _("Delivery")
    NONE = "none", _("None (customer's choice)")


class ReturnReason(models.Model):
    """Why an item comes back. `controllable`: the shop caused it, so return shipping
    and restocking fees are waived. Retired reasons (`active` off) stay on old returns
    but are no longer offered."""

    code = models.SlugField(_("code"), max_length=50, unique=True)
    label_en = models.CharField(_("label (English)"), max_length=120)
    label_nl = models.CharField(_("label (Dutch)"), max_length=120)
    controllable = models.BooleanField(
        _("the shop caused it"),
        default=False,
        help_text=_("Return shipping and restocking fees are waived for this reason."),
    )
    fix_area = models.CharField(
        _("where a fix belongs"),
        max_length=20,
        choices=FixArea.choices,
        default=FixArea.NONE,
    )
    is_other = models.BooleanField(
        _("“other” reason"), default=False, help_text=_("Always listed last.")
    )
    needs_photo = models.BooleanField(_("ask for a photo"), default=False)
    active = models.BooleanField(_("offered to customers"), default=True)
    sort_order = models.PositiveSmallIntegerField(_("sort order"), default=0)

    panels = [
        FieldPanel("code"),
        FieldPanel("label_en"),
        FieldPanel("label_nl"),
        FieldPanel("controllable"),
        FieldPanel("fix_area"),
        FieldPanel("needs_photo"),
        FieldPanel("is_other"),
        FieldPanel("active"),
        FieldPanel("sort_order"),
    ]

    class Meta:
        verbose_name = _("return reason")
        verbose_name_plural = _("return reasons")
        ordering = ["is_other", "sort_order", "pk"]

    def __str__(self):
        return self.label

    @property
    def label(self) -> str:
        language = (translation.get_language() or "en").split("-")[0]
        return self.label_nl if language == "nl" and self.label_nl else self.label_en


# Fulfilment centres --------------------------------------------------------------------


class CentreKind(models.TextChoices):
    IN_HOUSE = "in_house", _("In-house warehouse")
    THIRD_PARTY = "third_party", _("Third-party logistics (3PL)")


class FulfilmentCentre(models.Model):
    """Where returned items go. Returns route here by product category, else to the
    default centre. A 3PL reports on its returns with its own API token (only a
    SHA-256 of the key is stored)."""

    name = models.CharField(_("name"), max_length=120)
    code = models.SlugField(_("code"), max_length=30, unique=True)
    kind = models.CharField(
        _("kind"),
        max_length=20,
        choices=CentreKind.choices,
        default=CentreKind.IN_HOUSE,
    )
    address = models.TextField(_("address"), help_text=_("As printed on the slip."))
    country = models.CharField(_("country"), max_length=2, default="NL")
    email = models.EmailField(_("e-mail"), blank=True)
    return_shipping_cost = models.DecimalField(
        _("return shipping tariff"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("What one return parcel to this centre costs the shop."),
    )
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    categories = models.ManyToManyField(
        Category,
        verbose_name=_("categories routed here"),
        blank=True,
        related_name="fulfilment_centres",
    )
    is_default = models.BooleanField(
        _("default centre"),
        default=False,
        help_text=_("Receives returns of products no other centre takes."),
    )
    key_hash = models.CharField(max_length=64, blank=True, editable=False)
    key_prefix = models.CharField(
        _("token starts with"), max_length=8, blank=True, editable=False
    )
    token_created_at = models.DateTimeField(
        _("token created at"), null=True, blank=True, editable=False
    )
    revoked_at = models.DateTimeField(_("token revoked at"), null=True, blank=True)

    panels = [
        FieldPanel("name"),
        FieldPanel("code"),
        FieldPanel("kind"),
        FieldPanel("address"),
        FieldPanel("country"),
        FieldPanel("email"),
        FieldPanel("return_shipping_cost"),
        FieldPanel("currency"),
        FieldPanel("categories"),
        FieldPanel("is_default"),
        # Shown, not editable: clearing it would bring a revoked key back to life;
        # the centre's "Revoke API key" and "New API key" buttons change it.
        FieldPanel("revoked_at", read_only=True),
    ]

    class Meta:
        verbose_name = _("fulfilment centre")
        verbose_name_plural = _("fulfilment centres")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=Q(is_default=True),
                name="fulfilment_centre_one_default",
            ),
            models.UniqueConstraint(
                fields=["key_hash"],
                condition=~Q(key_hash=""),
                name="fulfilment_centre_key_hash_unique",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.code})"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @property
    def has_active_token(self) -> bool:
        return bool(self.key_hash) and self.revoked_at is None


# Settings ------------------------------------------------------------------------------


@register_setting(icon="redirect")
class ReturnsSettings(BaseGenericSetting):
    handling_minutes = models.PositiveIntegerField(
        _("handling minutes per return"),
        default=12,
        help_text=_("Receiving, inspecting and putting one return away."),
    )
    hourly_rate = models.DecimalField(
        _("handling cost per hour"),
        max_digits=8,
        decimal_places=2,
        default=Decimal("30.00"),
    )
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    manual_approval_above = models.DecimalField(
        _("needs approval above"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        default=Decimal("500.00"),
        help_text=_(
            "Returns worth more than this wait for the returns team. Empty: never."
        ),
    )
    refurbish_recovery_percent = models.DecimalField(
        _("value recovered by refurbishing (percent)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("50.00"),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    restock_recovery_percent = models.DecimalField(
        _("value recovered by restocking (percent)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("100.00"),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    shop_webhook_url = models.URLField(
        _("shop webhook address"),
        blank=True,
        help_text=_("Return events are posted here. Empty: none are sent."),
    )
    shop_webhook_secret = models.CharField(
        _("shop webhook secret"),
        max_length=200,
        blank=True,
        help_text=_("Signs each webhook (HMAC-SHA256 over the body)."),
    )
    satisfaction_survey = models.BooleanField(
        _("ask for a satisfaction score after a return"), default=True
    )

    panels = [
        MultiFieldPanel(
            [
                FieldPanel("handling_minutes"),
                FieldPanel("hourly_rate"),
                FieldPanel("currency"),
                FieldPanel("refurbish_recovery_percent"),
                FieldPanel("restock_recovery_percent"),
            ],
            heading=_("Costs"),
        ),
        FieldPanel("manual_approval_above"),
        MultiFieldPanel(
            [FieldPanel("shop_webhook_url"), FieldPanel("shop_webhook_secret")],
            heading=_("Shop webhooks"),
        ),
        FieldPanel("satisfaction_survey"),
    ]

    class Meta:
        verbose_name = _("returns settings")

    @property
    def handling_cost(self) -> Decimal:
        return (self.hourly_rate * self.handling_minutes / 60).quantize(Decimal("0.01"))


# State machine -------------------------------------------------------------------------


class ReturnStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    APPROVED = "approved", _("Approved")
    IN_TRANSIT = "in_transit", _("On its way")
    RECEIVED = "received", _("Received")
    INSPECTED = "inspected", _("Inspected")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")
    REJECTED = "rejected", _("Rejected")
    CANCELLED = "cancelled", _("Cancelled")


S = ReturnStatus
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    S.REQUESTED: frozenset({S.APPROVED, S.REJECTED, S.CANCELLED}),
    # approved → resolved only when every line is returnless (nothing to send back).
    S.APPROVED: frozenset({S.IN_TRANSIT, S.RECEIVED, S.RESOLVED, S.CANCELLED}),
    S.IN_TRANSIT: frozenset({S.RECEIVED, S.CANCELLED}),
    S.RECEIVED: frozenset({S.INSPECTED}),
    S.INSPECTED: frozenset({S.RESOLVED}),
    S.RESOLVED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
    S.REJECTED: frozenset(),
    S.CANCELLED: frozenset(),
}
OPEN_STATUSES = frozenset(
    {S.REQUESTED, S.APPROVED, S.IN_TRANSIT, S.RECEIVED, S.INSPECTED}
)
# Returns whose quantities no longer count against the order line.
VOID_STATUSES = frozenset({S.REJECTED, S.CANCELLED})


class Resolution(models.TextChoices):
    """The values match cms.models.Resolution (a policy's `resolutions`)."""

    REFUND = "refund", _("Refund")
    EXCHANGE = "exchange", _("Exchange")
    STORE_CREDIT = "store_credit", _("Store credit")
    REPAIR = "repair", _("Repair")


class Disposition(models.TextChoices):
    RESTOCK = "restock", _("Restock")
    REFURBISH = "refurbish", _("Refurbish")
    RECYCLE = "recycle", _("Recycle")
    DISPOSE = "dispose", _("Dispose")
    KEEP = "keep", _("Customer keeps it")


class Condition(models.TextChoices):
    AS_NEW = "as_new", _("As new")
    OPENED = "opened", _("Opened")
    USED = "used", _("Used")
    DAMAGED = "damaged", _("Damaged")
    MISSING = "missing", _("Missing")


class Channel(models.TextChoices):
    ACCOUNT = "account", _("Account")
    GUEST = "guest", _("Guest lookup")
    QR = "qr", _("QR code on the parcel")
    STAFF = "staff", _("Returns team")


class Payer(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    SHOP = "shop", _("Shop")
    NONE = "none", _("No shipping")


class ReturnRequest(models.Model):
    rma = models.CharField(_("RMA number"), max_length=20, unique=True)
    order = models.ForeignKey(
        Order,
        verbose_name=_("order"),
        on_delete=models.PROTECT,
        related_name="return_requests",
    )
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="return_requests",
    )
    centre = models.ForeignKey(
        FulfilmentCentre,
        verbose_name=_("fulfilment centre"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="return_requests",
    )
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=ReturnStatus.choices,
        default=ReturnStatus.REQUESTED,
    )
    channel = models.CharField(
        _("filed through"), max_length=20, choices=Channel.choices
    )
    idempotency_key = models.CharField(max_length=64, unique=True, editable=False)
    needs_approval = models.BooleanField(_("needs approval"), default=False)
    approval_reasons = models.JSONField(_("why it needs approval"), default=list)
    window_exception = models.BooleanField(
        _("exception outside the return window"), default=False
    )
    rejection_reason = models.TextField(_("why it was rejected"), blank=True)
    currency = models.CharField(_("currency"), max_length=3)
    # Costs: estimates at filing, actual figures once received/resolved.
    shipping_cost = _money(_("return shipping cost"))
    shipping_paid_by = models.CharField(
        _("return shipping paid by"),
        max_length=10,
        choices=Payer.choices,
        default=Payer.CUSTOMER,
    )
    shipping_charge = _money(_("return shipping charged to the customer"))
    handling_cost = _money(_("handling cost"))
    refund_total = _money(_("refunded"))
    restocking_fee_total = _money(_("restocking fees kept"))
    store_credit_total = _money(_("store credit given"))
    value_recovered = _money(_("value recovered"))
    satisfaction_score = models.PositiveSmallIntegerField(
        _("satisfaction (1–5)"), null=True, blank=True
    )
    satisfaction_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("filed at"), db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    class Meta:
        verbose_name = _("return")
        verbose_name_plural = _("returns")
        ordering = ["-created_at", "-pk"]
        permissions = [("process_returnrequest", "Can process returns")]
        constraints = [
            models.CheckConstraint(
                condition=Q(satisfaction_score__isnull=True)
                | Q(satisfaction_score__gte=1, satisfaction_score__lte=5),
                name="return_satisfaction_1_to_5",
            ),
            models.CheckConstraint(
                condition=Q(status__in=ReturnStatus.values),
                name="return_status_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["customer", "-created_at"]),
        ]

    def __str__(self):
        return self.rma

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def can_move_to(self, status: str) -> bool:
        return status in ALLOWED_TRANSITIONS[self.status]

    @property
    def can_cancel(self) -> bool:
        return self.can_move_to(ReturnStatus.CANCELLED)


class ReturnLine(models.Model):
    request = models.ForeignKey(
        ReturnRequest,
        verbose_name=_("return"),
        on_delete=models.CASCADE,
        related_name="lines",
    )
    order_line = models.ForeignKey(
        OrderLine,
        verbose_name=_("order line"),
        on_delete=models.PROTECT,
        related_name="return_lines",
    )
    quantity = models.PositiveIntegerField(_("quantity"))
    reason = models.ForeignKey(
        ReturnReason,
        verbose_name=_("reason given"),
        on_delete=models.PROTECT,
        related_name="lines",
    )
    confirmed_reason = models.ForeignKey(
        ReturnReason,
        verbose_name=_("confirmed reason"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="confirmed_lines",
    )
    comment = models.TextField(_("what was wrong"), blank=True)
    prevention = models.TextField(_("what would have prevented it"), blank=True)
    requested_resolution = models.CharField(
        _("resolution asked for"), max_length=20, choices=Resolution.choices
    )
    resolution = models.CharField(
        _("resolution"), max_length=20, choices=Resolution.choices, blank=True
    )
    returnless = models.BooleanField(_("customer keeps the item"), default=False)
    unit_value = _money(_("unit price"))
    refund_amount = _money(_("refund"))
    restocking_fee = _money(_("restocking fee"))
    store_credit_amount = _money(_("store credit"))
    condition = models.CharField(
        _("condition"), max_length=20, choices=Condition.choices, blank=True
    )
    disposition = models.CharField(
        _("disposition"), max_length=20, choices=Disposition.choices, blank=True
    )
    value_recovered = _money(_("value recovered"))
    policy = models.JSONField(_("policy applied"), default=dict)
    executed_at = models.DateTimeField(_("resolution executed at"), null=True)

    class Meta:
        verbose_name = _("return line")
        verbose_name_plural = _("return lines")
        ordering = ["request", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="return_line_quantity_positive"
            ),
            models.UniqueConstraint(
                fields=["request", "order_line"], name="return_line_once_per_request"
            ),
        ]

    def __str__(self):
        return f"{self.quantity} × {self.order_line.product.name}"

    @property
    def effective_reason(self) -> ReturnReason:
        """The inspector's confirmed reason when recorded, else the customer's."""
        return self.confirmed_reason or self.reason

    @property
    def line_value(self) -> Decimal:
        return self.unit_value * self.quantity


class ReturnPhoto(models.Model):
    line = models.ForeignKey(
        ReturnLine,
        verbose_name=_("return line"),
        on_delete=models.CASCADE,
        related_name="photos",
    )
    image = models.ImageField(_("photo"), upload_to="returns/photos/%Y/%m/")
    # Re-encoded without metadata under a random name (config/photos.py); photos
    # stored before that are cleaned by `manage.py clean_return_photos`.
    cleaned = models.BooleanField(_("cleaned"), default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("return photo")
        verbose_name_plural = _("return photos")

    def __str__(self):
        return self.image.name


class Actor(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    STAFF = "staff", _("Returns team")
    CENTRE = "centre", _("Fulfilment centre")
    SYSTEM = "system", _("System")


class EventKind(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    IN_TRANSIT = "in_transit", _("On its way")
    RECEIVED = "received", _("Received")
    INSPECTED = "inspected", _("Inspected")
    DISPOSITION = "disposition", _("Disposition recorded")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")
    CANCELLED = "cancelled", _("Cancelled")
    SATISFACTION = "satisfaction", _("Satisfaction score")


class ReturnEvent(models.Model):
    """The audit trail: one row per transition or centre report."""

    request = models.ForeignKey(
        ReturnRequest,
        verbose_name=_("return"),
        on_delete=models.CASCADE,
        related_name="events",
    )
    kind = models.CharField(_("event"), max_length=20, choices=EventKind.choices)
    from_status = models.CharField(
        _("from"), max_length=20, choices=ReturnStatus.choices, blank=True
    )
    to_status = models.CharField(
        _("to"), max_length=20, choices=ReturnStatus.choices, blank=True
    )
    actor = models.CharField(_("by"), max_length=20, choices=Actor.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff member"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    centre = models.ForeignKey(
        FulfilmentCentre,
        verbose_name=_("fulfilment centre"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="events",
    )
    note = models.TextField(_("note"), blank=True)
    data = models.JSONField(default=dict, blank=True)
    external_id = models.CharField(_("centre's event id"), max_length=100, blank=True)
    occurred_at = models.DateTimeField(_("at"), db_index=True)

    class Meta:
        verbose_name = _("return event")
        verbose_name_plural = _("return events")
        ordering = ["occurred_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["centre", "external_id"],
                condition=~Q(external_id=""),
                name="return_event_external_id_per_centre",
            ),
        ]

    def __str__(self):
        return f"{self.request_id} {self.kind}"


# Outbound webhooks ---------------------------------------------------------------------


class WebhookStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class ShopWebhook(models.Model):
    """One event for the shop, written in the transaction that caused it and delivered
    by returns.tasks with retries (see returns/outbound.py)."""

    key = models.CharField(max_length=200, unique=True)
    event = models.CharField(_("event"), max_length=50)
    request = models.ForeignKey(
        ReturnRequest,
        verbose_name=_("return"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="webhooks",
    )
    payload = models.JSONField()
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=WebhookStatus.choices,
        default=WebhookStatus.PENDING,
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    max_attempts = models.PositiveIntegerField(_("attempts allowed"), default=10)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"))
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        verbose_name = _("shop webhook")
        verbose_name_plural = _("shop webhooks")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self):
        return self.key
