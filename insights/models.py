"""Returns insights: the editable definitions, each customer's computed figures and
persona, and the fixes the shop made to products.

`CustomerInsight` rows are written only by `insights.services.compute_insights` (one
SQL upsert) and `set_override`; the admin and the API read them. The definitions
(serial returner, persona, product thresholds) live in `InsightsSettings`:

- Return rate = returned units / delivered units (and the same by value). A return
  counts from its request unless it was rejected or cancelled; it is attributed to
  the order it returns, so a customer's rate is never above 1.
- Window: orders delivered at or after `now - serial_window_days`.
- Serial returner: in the window at least `serial_min_orders` delivered orders, at
  least `serial_min_returned_units` returned units and a unit return rate of at least
  `serial_min_return_rate`. A manual override (always / never) wins.
- Personas (first match wins, so every customer has exactly one):
  1. serial_returner — is a serial returner (override included);
  2. new — no delivered order yet, or the first one delivered within
     `new_customer_days`;
  3. bracketer — at least one "bracket" in the window: within one order, a group of
     units of the same category (or, for products without a category, of the same
     product) with 2 or more units bought — one line with quantity ≥ 2 or several
     products of one category — of which exactly all but one were returned;
  4. one_time — exactly one delivered order;
  5. loyal_keeper — a repeat buyer whose returns make them neither of the above.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel, MultiFieldPanel
from wagtail.contrib.settings.models import BaseGenericSetting, register_setting

from returns.models import FixArea
from shop.models import Customer, Product

ZERO = Decimal("0.00")


@register_setting(icon="view")
class InsightsSettings(BaseGenericSetting):
    serial_window_days = models.PositiveIntegerField(
        _("serial returner: look back (days)"),
        default=365,
        validators=[MinValueValidator(1)],
    )
    serial_min_orders = models.PositiveIntegerField(
        _("serial returner: at least this many delivered orders"), default=3
    )
    serial_min_returned_units = models.PositiveIntegerField(
        _("serial returner: at least this many returned units"), default=3
    )
    serial_min_return_rate = models.DecimalField(
        _("serial returner: return rate at least"),
        max_digits=5,
        decimal_places=4,
        default=Decimal("0.50"),
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text=_("Returned units divided by delivered units, from 0 to 1."),
    )
    serial_needs_approval = models.BooleanField(
        _("serial returners' returns wait for approval"),
        default=True,
        help_text=_("A new return from a serial returner waits for the returns team."),
    )
    new_customer_days = models.PositiveIntegerField(
        _("a customer is new for this many days after the first delivery"),
        default=30,
    )
    product_min_units = models.PositiveIntegerField(
        _("products to fix: at least this many units sold"),
        default=20,
        validators=[MinValueValidator(1)],
    )
    wilson_z = models.DecimalField(
        _("products to fix: confidence (z of the Wilson interval)"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("1.96"),
        validators=[MinValueValidator(0)],
        help_text=_("1.96 is 95 percent confidence; higher flags fewer products."),
    )

    panels = [
        MultiFieldPanel(
            [
                FieldPanel("serial_window_days"),
                FieldPanel("serial_min_orders"),
                FieldPanel("serial_min_returned_units"),
                FieldPanel("serial_min_return_rate"),
                FieldPanel("serial_needs_approval"),
            ],
            heading=_("Serial returners"),
        ),
        FieldPanel("new_customer_days"),
        MultiFieldPanel(
            [FieldPanel("product_min_units"), FieldPanel("wilson_z")],
            heading=_("Products to fix"),
        ),
    ]

    class Meta:
        verbose_name = _("insights settings")
        permissions = [("view_insights", "Can view returns insights")]


class Override(models.TextChoices):
    NONE = "", _("As computed")
    ALWAYS = "always", _("Always a serial returner")
    NEVER = "never", _("Never a serial returner")


class Persona(models.TextChoices):
    NEW = "new", _("New customer")
    ONE_TIME = "one_time", _("One-time buyer")
    LOYAL_KEEPER = "loyal_keeper", _("Loyal keeper")
    BRACKETER = "bracketer", _("Bracketer")
    SERIAL_RETURNER = "serial_returner", _("Serial returner")


def _money(verbose_name):
    return models.DecimalField(
        verbose_name, max_digits=14, decimal_places=2, default=ZERO
    )


def _rate(verbose_name):
    return models.DecimalField(
        verbose_name, max_digits=7, decimal_places=4, default=Decimal("0")
    )


class CustomerInsight(models.Model):
    """One customer's figures over the serial-returner window, their flag and persona.
    Written by `compute_insights`; `override*` by `set_override` only."""

    customer = models.OneToOneField(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="insight",
    )
    orders = models.PositiveIntegerField(_("delivered orders"), default=0)
    delivered_units = models.PositiveIntegerField(_("delivered units"), default=0)
    returned_units = models.PositiveIntegerField(_("returned units"), default=0)
    delivered_value = _money(_("delivered value"))
    returned_value = _money(_("returned value"))
    return_rate = _rate(_("return rate (units)"))
    value_return_rate = _rate(_("return rate (value)"))
    # Persona inputs beyond the window figures.
    lifetime_orders = models.PositiveIntegerField(
        _("delivered orders (all time)"), default=0
    )
    first_delivered_at = models.DateTimeField(
        _("first delivery"), null=True, blank=True
    )
    brackets = models.PositiveIntegerField(_("bracketed purchases"), default=0)
    computed_serial = models.BooleanField(
        _("serial returner by the rule"), default=False
    )
    flagged_since = models.DateTimeField(_("flagged since"), null=True, blank=True)
    override = models.CharField(
        _("override"), max_length=10, choices=Override.choices, default="", blank=True
    )
    override_reason = models.TextField(_("why"), blank=True)
    override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("overridden by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    override_at = models.DateTimeField(_("overridden at"), null=True, blank=True)
    persona = models.CharField(
        _("persona"), max_length=20, choices=Persona.choices, default=Persona.NEW
    )
    # When the figures last changed (a recompute finding the same leaves the row).
    computed_at = models.DateTimeField(_("figures as of"))

    class Meta:
        verbose_name = _("customer insight")
        verbose_name_plural = _("customer insights")
        ordering = ["-return_rate", "customer_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(override__in=Override.values),
                name="customer_insight_override_valid",
            ),
            models.CheckConstraint(
                condition=Q(persona__in=Persona.values),
                name="customer_insight_persona_valid",
            ),
            models.CheckConstraint(
                condition=Q(returned_units__lte=models.F("delivered_units")),
                name="customer_insight_returned_le_delivered",
            ),
        ]
        indexes = [
            models.Index(fields=["persona"]),
            models.Index(
                fields=["flagged_since"],
                condition=Q(flagged_since__isnull=False),
                name="customer_insight_flagged",
            ),
        ]

    def __str__(self):
        return f"{self.customer_id}: {self.persona}"

    @property
    def is_serial_returner(self) -> bool:
        if self.override == Override.ALWAYS:
            return True
        if self.override == Override.NEVER:
            return False
        return self.computed_serial


class ProductFix(models.Model):
    """Someone fixed what made a product come back (new description, better box);
    insights show its controllable return rate before and after `fixed_on`."""

    product = models.ForeignKey(
        Product,
        verbose_name=_("product"),
        on_delete=models.CASCADE,
        related_name="fixes",
    )
    fixed_on = models.DateField(_("fixed on"))
    area = models.CharField(_("what was fixed"), max_length=20, choices=FixArea.choices)
    note = models.TextField(_("note"), blank=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("product fix")
        verbose_name_plural = _("product fixes")
        ordering = ["-fixed_on", "-pk"]
        indexes = [models.Index(fields=["product", "-fixed_on"])]

    def __str__(self):
        return f"{self.product_id} {self.fixed_on}"
