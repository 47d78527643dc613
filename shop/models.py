"""The shop's data as pushed to us: customers, catalogue and orders."""

import hashlib
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _


class Language(models.TextChoices):
    ENGLISH = "en", _("English")
    DUTCH = "nl", _("Dutch")


class ConsentSource(models.TextChoices):
    CHECKOUT = "checkout", _("Shop checkout")
    ACCOUNT = "account", _("Account settings")
    IMPORT = "import", _("CSV import")
    WEBHOOK = "webhook", _("Shop webhook")
    EMAIL_LINK = "email_link", _("E-mail link")


class OrderSource(models.TextChoices):
    SHOP = "shop", _("Shop (API or CSV)")
    SHOPIFY = "shopify", _("Shopify")
    WOOCOMMERCE = "woocommerce", _("WooCommerce")


class Customer(models.Model):
    """A buyer, keyed by e-mail address (stored lower-case, so unique regardless of case)."""

    email = models.EmailField(_("e-mail"), max_length=254, unique=True)
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    language = models.CharField(
        _("language"), max_length=2, choices=Language.choices, default=Language.ENGLISH
    )
    marketing_consent = models.BooleanField(_("marketing consent"), default=False)
    marketing_consent_at = models.DateTimeField(
        _("consent changed at"), null=True, blank=True
    )
    marketing_consent_source = models.CharField(
        _("consent given through"),
        max_length=20,
        choices=ConsentSource.choices,
        blank=True,
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("account"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="customers",
        help_text=_("Set when the account verifies this e-mail address."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["email"]
        constraints = [
            models.CheckConstraint(
                condition=Q(email=Lower("email")), name="customer_email_lowercase"
            ),
        ]

    def __str__(self):
        return self.email

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Category(models.Model):
    name = models.CharField(_("name"), max_length=120, unique=True)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["name"]

    def __str__(self):
        return self.name


class Product(models.Model):
    sku = models.CharField(_("SKU"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=255)
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="products",
    )
    price = models.DecimalField(_("price"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    product_url = models.URLField(_("product page"), max_length=500, blank=True)
    image_url = models.URLField(_("image"), max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(price__gte=0), name="product_price_not_negative"
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.sku})"


class Order(models.Model):
    source = models.CharField(
        _("source"),
        max_length=20,
        choices=OrderSource.choices,
        default=OrderSource.SHOP,
    )
    external_id = models.CharField(_("external id"), max_length=64)
    number = models.CharField(_("order number"), max_length=64)
    # No index of its own: the (customer, -placed_at) index below starts with it.
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="orders",
        db_index=False,
    )
    placed_at = models.DateTimeField(_("placed at"))
    shipped_at = models.DateTimeField(_("shipped at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    currency = models.CharField(_("currency"), max_length=3)
    total = models.DecimalField(
        _("total"), max_digits=12, decimal_places=2, default=Decimal("0.00")
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-placed_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="order_external_id_per_source"
            ),
            models.CheckConstraint(
                condition=Q(total__gte=0), name="order_total_not_negative"
            ),
        ]
        indexes = [models.Index(fields=["customer", "-placed_at"])]

    def __str__(self):
        return self.number


class OrderLine(models.Model):
    # No index of its own: the unique (order, external_id) constraint starts with it.
    order = models.ForeignKey(
        Order,
        verbose_name=_("order"),
        on_delete=models.CASCADE,
        related_name="lines",
        db_index=False,
    )
    external_id = models.CharField(_("external id"), max_length=64)
    product = models.ForeignKey(
        Product,
        verbose_name=_("product"),
        on_delete=models.PROTECT,
        related_name="order_lines",
    )
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_price = models.DecimalField(_("unit price"), max_digits=12, decimal_places=2)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["order", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "external_id"], name="order_line_external_id_per_order"
            ),
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="order_line_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0), name="order_line_price_not_negative"
            ),
        ]

    def __str__(self):
        return f"{self.quantity} × {self.product.name}"

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity


class ApiScope(models.TextChoices):
    """What a token may use. Each API view names the scope it needs (shop.api_auth
    TokenScopes); fulfilment centres have their own keys (returns.api_auth)."""

    ORDERS = (
        "orders",
        _("Products and orders: create, update, mark delivered, return inserts"),
    )
    COUPONS = "coupons", _("Coupons: check, redeem, release")
    RETURNS = "returns", _("Returns: list, export")
    INSIGHTS = "insights", _("Insights: serial returners, products to fix")


def all_api_scopes() -> list[str]:
    return [scope.value for scope in ApiScope]


class ApiToken(models.Model):
    """A token the shop or a 3PL uses on the API. Only a SHA-256 of the key is stored.
    Its scopes are fixed when it is made (a token for the storefront's coupon check
    need not read serial returners); another set of scopes is another token."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(_("starts with"), max_length=8, editable=False)
    # Tokens made before scopes existed keep what they could do: every scope.
    scopes = models.JSONField(_("scopes"), default=all_api_scopes, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["name"]

    def __str__(self):
        return self.name

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def allows(self, scope: str) -> bool:
        return scope in (self.scopes or [])

    @property
    def scope_codes(self) -> str:
        return ", ".join(self.scopes or [])

    @property
    def scope_labels(self) -> str:
        return "; ".join(
            str(ApiScope(s).label) for s in self.scopes or [] if s in ApiScope.values
        )

    scope_labels.fget.short_description = _("scopes")


class WebhookDelivery(models.Model):
    """One delivery from Shopify or WooCommerce, kept to drop the platform's duplicates."""

    platform = models.CharField(max_length=20, choices=OrderSource.choices)
    delivery_id = models.CharField(max_length=128)
    topic = models.CharField(max_length=64)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "delivery_id"], name="webhook_delivery_once"
            ),
        ]

    def __str__(self):
        return f"{self.platform}:{self.delivery_id}"
