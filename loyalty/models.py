"""Points and store credit as append-only ledgers, rewards, coupons and earning rules.

A ledger is an account row with a cached balance and an entries table. Entries are
never updated or deleted (the model refuses, and on PostgreSQL a trigger does too); a
correction is a new entry. The balance changes only in the transaction that inserts
the entry, under a lock on the account row (see loyalty/services.py and
docs/adr/0003-points-ledger.md).
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel, FieldRowPanel, MultiFieldPanel
from wagtail.contrib.settings.models import BaseGenericSetting, register_setting

from shop.models import Customer


class AppendOnlyError(RuntimeError):
    """Ledger entries are never changed or removed: write a correcting entry."""


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError(f"{self.model.__name__} rows are never updated.")

    def delete(self):
        raise AppendOnlyError(f"{self.model.__name__} rows are never deleted.")


class AppendOnlyModel(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError(f"{type(self).__name__} rows are never updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError(f"{type(self).__name__} rows are never deleted.")


# Earning rules ------------------------------------------------------------------------


@register_setting(icon="pick")
class LoyaltySettings(BaseGenericSetting):
    points_per_review = models.PositiveIntegerField(
        _("points per approved review"),
        default=50,
        help_text=_("Given on approval, whatever the rating."),
    )
    photo_bonus = models.PositiveIntegerField(
        _("bonus for a review with a photo"), default=25
    )
    points_per_euro = models.PositiveIntegerField(
        _("points per euro kept"),
        default=0,
        help_text=_(
            "Points per whole euro of an order the customer kept, given after the "
            "return window has closed. 0 turns purchase points off."
        ),
    )
    return_window_days = models.PositiveIntegerField(
        _("return window (days after delivery)"), default=30
    )
    expiry_months = models.PositiveIntegerField(
        _("points expire after months of inactivity"),
        default=12,
        help_text=_(
            "The whole balance expires this many months after the customer last "
            "earned or redeemed points. 0: points never expire."
        ),
    )
    reminder_days = models.PositiveIntegerField(
        _("reminder days before expiry"), default=30
    )
    euro_per_point = models.DecimalField(
        _("euro value of one point"),
        max_digits=8,
        decimal_places=4,
        default=Decimal("0.0100"),
        help_text=_("Used for the outstanding liability in the report."),
    )
    silver_threshold = models.PositiveIntegerField(
        _("silver tier: points earned in 12 months"),
        default=0,
        help_text=_("0 turns tiers off."),
    )
    silver_multiplier = models.DecimalField(
        _("silver earning multiplier"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("1.25"),
        validators=[MinValueValidator(Decimal("1"))],
    )
    gold_threshold = models.PositiveIntegerField(
        _("gold tier: points earned in 12 months"), default=0
    )
    gold_multiplier = models.DecimalField(
        _("gold earning multiplier"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("1.50"),
        validators=[MinValueValidator(Decimal("1"))],
    )

    panels = [
        MultiFieldPanel(
            [
                FieldPanel("points_per_review"),
                FieldPanel("photo_bonus"),
                FieldPanel("points_per_euro"),
                FieldPanel("return_window_days"),
            ],
            heading=_("Earning"),
        ),
        MultiFieldPanel(
            [
                FieldRowPanel(
                    [FieldPanel("silver_threshold"), FieldPanel("silver_multiplier")]
                ),
                FieldRowPanel(
                    [FieldPanel("gold_threshold"), FieldPanel("gold_multiplier")]
                ),
            ],
            heading=_("Tiers"),
        ),
        MultiFieldPanel(
            [FieldPanel("expiry_months"), FieldPanel("reminder_days")],
            heading=_("Expiry"),
        ),
        FieldPanel("euro_per_point"),
    ]

    class Meta:
        verbose_name = _("loyalty settings")


# Points ledger ------------------------------------------------------------------------


class EntryKind(models.TextChoices):
    EARN = "earn", _("Earned")
    REDEEM = "redeem", _("Redeemed")
    ADJUST = "adjust", _("Adjusted")
    EXPIRE = "expire", _("Expired")
    REVERSAL = "reversal", _("Reversed")


class PointsAccount(models.Model):
    customer = models.OneToOneField(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="points_account",
    )
    balance = models.IntegerField(_("balance"), default=0)
    last_activity_at = models.DateTimeField(_("last activity"), null=True, blank=True)
    expires_at = models.DateTimeField(_("points expire at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("points account")
        verbose_name_plural = _("points accounts")
        ordering = ["customer__email"]
        constraints = [
            models.CheckConstraint(
                condition=Q(balance__gte=0), name="points_balance_not_negative"
            ),
        ]
        indexes = [models.Index(fields=["expires_at"])]
        permissions = [
            ("adjust_points", _("Can adjust points balances")),
            ("view_loyalty_report", _("Can view the loyalty report")),
        ]

    def __str__(self):
        return str(self.customer)


class PointsEntry(AppendOnlyModel):
    account = models.ForeignKey(
        PointsAccount,
        verbose_name=_("account"),
        on_delete=models.PROTECT,
        related_name="entries",
    )
    amount = models.IntegerField(_("points"))
    kind = models.CharField(_("kind"), max_length=10, choices=EntryKind.choices)
    reason = models.CharField(_("reason"), max_length=255)
    key = models.CharField(_("idempotency key"), max_length=120, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        # Never SET_NULL: the database refuses updates to entries, and the audit
        # trail needs the person. Deactivate staff users instead of deleting them.
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        verbose_name = _("points entry")
        verbose_name_plural = _("points entries")
        ordering = ["-created_at", "-pk"]
        constraints = [
            # A reversal of points already spent can be for 0 (see reverse()).
            models.CheckConstraint(
                condition=~Q(amount=0) | Q(kind="reversal"),
                name="points_entry_amount_not_zero",
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0, kind="earn")
                | Q(amount__lt=0, kind__in=["redeem", "expire"])
                | Q(kind__in=["adjust", "reversal"]),
                name="points_entry_sign_matches_kind",
            ),
        ]
        indexes = [models.Index(fields=["account", "-created_at"])]

    def __str__(self):
        return f"{self.amount:+d} {self.key}"


class ExpiryReminder(models.Model):
    """A reminder due to the customer that their points expire soon, recorded once
    per account and expiry date. `sent_at` is when it was written to the e-mail
    outbox (message key `points-expiry:<id>`); the outbox delivers it."""

    account = models.ForeignKey(
        PointsAccount, on_delete=models.PROTECT, related_name="expiry_reminders"
    )
    expires_on = models.DateField(_("expires on"))
    points = models.PositiveIntegerField(_("points"))
    created_at = models.DateTimeField(_("due since"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("expiry reminder")
        verbose_name_plural = _("expiry reminders")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "expires_on"], name="expiry_reminder_once"
            ),
        ]

    def __str__(self):
        return f"{self.account} {self.expires_on}"


# Rewards and coupons ------------------------------------------------------------------


class RewardKind(models.TextChoices):
    FIXED_AMOUNT = "fixed_amount", _("Fixed amount off")
    PERCENTAGE = "percentage", _("Percentage off")
    FREE_SHIPPING = "free_shipping", _("Free shipping")


class Reward(models.Model):
    name = models.CharField(_("name"), max_length=120)
    description = models.CharField(_("description"), max_length=255, blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=RewardKind.choices)
    points_cost = models.PositiveIntegerField(
        _("points cost"), validators=[MinValueValidator(1)]
    )
    value = models.DecimalField(
        _("value"),
        max_digits=10,
        decimal_places=2,
        default=Decimal("0.00"),
        help_text=_("Amount off, or percentage off; ignored for free shipping."),
    )
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    coupon_valid_days = models.PositiveIntegerField(
        _("coupon valid for days"), default=90, validators=[MinValueValidator(1)]
    )
    per_customer_limit = models.PositiveIntegerField(
        _("per customer limit"), default=0, help_text=_("0: no limit.")
    )
    active = models.BooleanField(_("active"), default=True)
    sort_order = models.IntegerField(_("sort order"), default=0)

    class Meta:
        verbose_name = _("reward")
        verbose_name_plural = _("rewards")
        ordering = ["sort_order", "points_cost", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(points_cost__gt=0), name="reward_points_cost_positive"
            ),
            models.CheckConstraint(
                condition=Q(value__gte=0), name="reward_value_not_negative"
            ),
            models.CheckConstraint(
                condition=~Q(kind="percentage") | Q(value__lte=100),
                name="reward_percentage_at_most_100",
            ),
        ]

    def __str__(self):
        return self.name


class CouponKind(models.TextChoices):
    FIXED_AMOUNT = "fixed_amount", _("Fixed amount off")
    PERCENTAGE = "percentage", _("Percentage off")
    FREE_SHIPPING = "free_shipping", _("Free shipping")
    STORE_CREDIT = "store_credit", _("Store credit")


class StoreCreditAccount(models.Model):
    """A customer's money balance in one currency; its coupon spends it."""

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="store_credit_accounts",
    )
    currency = models.CharField(_("currency"), max_length=3)
    balance = models.DecimalField(
        _("balance"), max_digits=12, decimal_places=2, default=Decimal("0.00")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("store credit account")
        verbose_name_plural = _("store credit accounts")
        ordering = ["customer__email", "currency"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "currency"], name="store_credit_account_once"
            ),
            models.CheckConstraint(
                condition=Q(balance__gte=0), name="store_credit_balance_not_negative"
            ),
        ]

    def __str__(self):
        return f"{self.customer} {self.currency}"


class StoreCreditKind(models.TextChoices):
    CREDIT = "credit", _("Credited")
    SPEND = "spend", _("Spent")
    RELEASE = "release", _("Released")
    ADJUST = "adjust", _("Adjusted")


class StoreCreditEntry(AppendOnlyModel):
    account = models.ForeignKey(
        StoreCreditAccount,
        verbose_name=_("account"),
        on_delete=models.PROTECT,
        related_name="entries",
    )
    amount = models.DecimalField(_("amount"), max_digits=12, decimal_places=2)
    kind = models.CharField(_("kind"), max_length=10, choices=StoreCreditKind.choices)
    reason = models.CharField(_("reason"), max_length=255)
    key = models.CharField(_("idempotency key"), max_length=120, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        # Never SET_NULL: the database refuses updates to entries, and the audit
        # trail needs the person. Deactivate staff users instead of deleting them.
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        verbose_name = _("store credit entry")
        verbose_name_plural = _("store credit entries")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(amount=0), name="store_credit_entry_amount_not_zero"
            ),
        ]

    def __str__(self):
        return f"{self.amount:+} {self.account.currency} {self.key}"


class Coupon(models.Model):
    """A code the shop accepts. Points coupons are used once; a store-credit coupon
    spends its account's balance, order by order, until nothing is left."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=CouponKind.choices)
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="coupons",
    )
    reward = models.ForeignKey(
        Reward,
        verbose_name=_("reward"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="coupons",
    )
    points_entry = models.OneToOneField(
        PointsEntry,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="coupon",
    )
    store_credit_account = models.OneToOneField(
        StoreCreditAccount,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="coupon",
    )
    value = models.DecimalField(
        _("value"), max_digits=12, decimal_places=2, default=Decimal("0.00")
    )
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="store_credit", store_credit_account__isnull=False)
                | (
                    ~Q(kind="store_credit")
                    & Q(store_credit_account__isnull=True)
                    & Q(points_entry__isnull=False)
                ),
                name="coupon_backed_by_points_or_credit",
            ),
        ]

    def __str__(self):
        return self.code

    @property
    def is_single_use(self) -> bool:
        return self.kind != CouponKind.STORE_CREDIT


class CouponRedemption(models.Model):
    """A coupon used on one of the shop's orders; released when that order is
    cancelled. At most one per coupon and order, so a retried redeem changes nothing."""

    coupon = models.ForeignKey(
        Coupon, on_delete=models.PROTECT, related_name="redemptions"
    )
    order_external_id = models.CharField(_("order external id"), max_length=64)
    amount = models.DecimalField(
        _("amount"), max_digits=12, decimal_places=2, default=Decimal("0.00")
    )
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    single_use = models.BooleanField(default=True, editable=False)
    redeemed_at = models.DateTimeField(_("redeemed at"), default=timezone.now)
    released_at = models.DateTimeField(_("released at"), null=True, blank=True)

    class Meta:
        verbose_name = _("coupon redemption")
        verbose_name_plural = _("coupon redemptions")
        ordering = ["-redeemed_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["coupon", "order_external_id"],
                name="coupon_redeemed_once_per_order",
            ),
            # A single-use coupon has at most one redemption in force.
            models.UniqueConstraint(
                fields=["coupon"],
                condition=Q(single_use=True, released_at__isnull=True),
                name="single_use_coupon_used_once",
            ),
            models.CheckConstraint(
                condition=Q(amount__gte=0), name="coupon_redemption_amount_not_negative"
            ),
        ]

    def __str__(self):
        return f"{self.coupon} on {self.order_external_id}"
