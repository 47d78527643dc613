"""Wagtail pages: the home page and the return policies, and the history of the
policies as they were published (`PolicySnapshot`), which `cms.queries.policy_for`
reads to judge an order by the rules in force when it was placed."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalManyToManyField
from wagtail.admin.forms import WagtailAdminPageForm
from wagtail.admin.panels import (
    FieldPanel,
    FieldRowPanel,
    MultiFieldPanel,
    ObjectList,
    TabbedInterface,
)
from wagtail.fields import RichTextField, StreamField
from wagtail.models import Page

from cms.blocks import HomeLinksBlock, PolicyBodyBlock
from cms.page_cache import AnonymousCachedPage

PERCENT = [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))]
NOT_NEGATIVE = [MinValueValidator(Decimal("0"))]


class HomePage(AnonymousCachedPage, Page):
    hero_title = models.CharField(_("hero title"), max_length=200, blank=True)
    hero_image = models.ForeignKey(
        "wagtailimages.Image",
        verbose_name=_("hero image"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    intro = RichTextField(_("introduction"), blank=True)
    links = StreamField(
        HomeLinksBlock(),
        verbose_name=_("links"),
        blank=True,
        help_text=_("Cards under the return policies: reviews, the returns portal…"),
    )

    content_panels = [
        *Page.content_panels,
        MultiFieldPanel(
            [FieldPanel("hero_title"), FieldPanel("hero_image"), FieldPanel("intro")],
            heading=_("Hero"),
        ),
        FieldPanel("links"),
    ]

    parent_page_types = ["wagtailcore.Page"]
    # Strings, not imports: the reviews app sits above cms and owns these page types.
    subpage_types = [
        "cms.ReturnPolicyIndexPage",
        "reviews.FeedbackWallPage",
        "reviews.ReviewPolicyPage",
    ]
    max_count_per_parent = 1

    class Meta:
        verbose_name = _("home page")

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["policy_index"] = (
            ReturnPolicyIndexPage.objects.live().child_of(self).first()
        )
        context["policies"] = (
            ReturnPolicyPage.objects.live()
            .descendant_of(self)
            .filter(locale_id=self.locale_id)
            .order_by("path")
        )
        return context


class ReturnPolicyIndexPage(AnonymousCachedPage, Page):
    intro = RichTextField(_("introduction"), blank=True)

    content_panels = [*Page.content_panels, FieldPanel("intro")]

    parent_page_types = ["cms.HomePage"]
    subpage_types = ["cms.ReturnPolicyPage"]
    max_count_per_parent = 1

    class Meta:
        verbose_name = _("return policy index")

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["policies"] = (
            ReturnPolicyPage.objects.live().child_of(self).order_by("path")
        )
        return context


class Resolution(models.TextChoices):
    REFUND = "refund", _("Refund")
    EXCHANGE = "exchange", _("Exchange")
    STORE_CREDIT = "store_credit", _("Store credit")
    REPAIR = "repair", _("Repair")


class ShippingPayer(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    SHOP = "shop", _("Shop")


class ReturnMethod(models.TextChoices):
    BY_MAIL = "by_mail", _("By mail")
    IN_STORE = "in_store", _("In store")
    BY_MAIL_OR_IN_STORE = "by_mail_or_in_store", _("By mail or in store")


class ReturnPolicyPageForm(WagtailAdminPageForm):
    """Checks that need the chosen categories and products (not yet on the page when
    the model's clean() runs)."""

    def clean(self):
        cleaned = super().clean()
        targets = bool(cleaned.get("applies_to_categories")) or bool(
            cleaned.get("applies_to_products")
        )
        if cleaned.get("is_default") and targets:
            self.add_error(
                "is_default",
                _(
                    "The default policy applies to everything: leave its categories "
                    "and products empty."
                ),
            )
        elif not cleaned.get("is_default") and not targets:
            self.add_error(
                "applies_to_categories",
                _(
                    "Choose the categories or products this policy applies to, or "
                    "make it the default policy."
                ),
            )
        return cleaned


class ReturnPolicyPage(AnonymousCachedPage, Page):
    """One return policy: a readable body beside the rules the returns portal enforces.

    Every publish writes a `PolicySnapshot` of the rules (see cms/services.py)."""

    summary = models.TextField(
        _("summary"),
        max_length=400,
        help_text=_(
            "One or two sentences shown on product pages and printed in the parcel."
        ),
    )
    body = StreamField(PolicyBodyBlock(), verbose_name=_("body"), blank=True)

    # Applies to
    is_default = models.BooleanField(
        _("default policy"),
        default=False,
        help_text=_("Applies to every product no other policy covers."),
    )
    applies_to_categories = ParentalManyToManyField(
        "shop.Category", verbose_name=_("categories"), blank=True, related_name="+"
    )
    applies_to_products = ParentalManyToManyField(
        "shop.Product",
        verbose_name=_("products"),
        blank=True,
        related_name="+",
        help_text=_("A product listed here follows this policy whatever its category."),
    )

    # Window and resolutions
    window_days = models.PositiveSmallIntegerField(
        _("return window (days)"),
        default=30,
        validators=[MaxValueValidator(365)],
        help_text=_("Counted from delivery."),
    )
    offers_refund = models.BooleanField(_("refund"), default=True)
    offers_exchange = models.BooleanField(_("exchange"), default=True)
    offers_store_credit = models.BooleanField(_("store credit"), default=False)
    store_credit_bonus_percent = models.DecimalField(
        _("store credit bonus (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=PERCENT,
        help_text=_("Extra value when the customer chooses store credit."),
    )
    offers_repair = models.BooleanField(_("repair"), default=False)
    condition_required = models.CharField(
        _("condition required"),
        max_length=255,
        blank=True,
        help_text=_("For example: unused, with tags, in the original packaging."),
    )
    return_method = models.CharField(
        _("return method"),
        max_length=24,
        choices=ReturnMethod.choices,
        default=ReturnMethod.BY_MAIL,
    )

    # Costs
    currency = models.CharField(
        _("currency"), max_length=3, default=settings.SHOP_DEFAULT_CURRENCY
    )
    fault_shipping_payer = models.CharField(
        _("return shipping paid by"),
        max_length=10,
        choices=ShippingPayer.choices,
        default=ShippingPayer.SHOP,
    )
    fault_shipping_cost = models.DecimalField(
        _("return shipping cost"),
        max_digits=8,
        decimal_places=2,
        default=Decimal("0.00"),
        validators=NOT_NEGATIVE,
        help_text=_("What a return label costs the one who pays."),
    )
    remorse_shipping_payer = models.CharField(
        _("return shipping paid by"),
        max_length=10,
        choices=ShippingPayer.choices,
        default=ShippingPayer.CUSTOMER,
    )
    remorse_shipping_cost = models.DecimalField(
        _("return shipping cost"),
        max_digits=8,
        decimal_places=2,
        default=Decimal("0.00"),
        validators=NOT_NEGATIVE,
        help_text=_("What a return label costs the one who pays."),
    )
    restocking_fee_percent = models.DecimalField(
        _("restocking fee (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=PERCENT,
        help_text=_(
            "Charged on a change of mind only, never when the shop is at fault."
        ),
    )

    # Exceptions
    not_returnable = models.BooleanField(
        _("not returnable"),
        default=False,
        help_text=_(
            "For example hygiene products once opened. Defects are still covered."
        ),
    )
    not_returnable_reason = models.CharField(
        _("why not returnable"), max_length=255, blank=True
    )
    returnless_max_item_value = models.DecimalField(
        _("keep items worth up to"),
        max_digits=8,
        decimal_places=2,
        null=True,
        blank=True,
        validators=NOT_NEGATIVE,
        help_text=_("Below this item value the customer keeps the item. Empty: never."),
    )
    returnless_min_cost_ratio = models.DecimalField(
        _("keep items when return cost is at least (percent of value)"),
        max_digits=6,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("1"))],
        help_text=_(
            "When returning costs this share of the item's value or more, the "
            "customer keeps the item. Empty: never."
        ),
    )

    base_form_class = ReturnPolicyPageForm

    content_panels = [
        *Page.content_panels,
        FieldPanel("summary"),
        FieldPanel("body"),
    ]
    rules_panels = [
        MultiFieldPanel(
            [
                FieldPanel("is_default"),
                FieldPanel(
                    "applies_to_categories", widget=forms.CheckboxSelectMultiple
                ),
                FieldPanel("applies_to_products"),
            ],
            heading=_("Applies to"),
        ),
        MultiFieldPanel(
            [
                FieldPanel("window_days"),
                FieldRowPanel(
                    [
                        FieldPanel("offers_refund"),
                        FieldPanel("offers_exchange"),
                        FieldPanel("offers_store_credit"),
                        FieldPanel("offers_repair"),
                    ],
                    heading=_("Resolutions offered"),
                ),
                FieldPanel("store_credit_bonus_percent"),
                FieldPanel("condition_required"),
                FieldPanel("return_method"),
            ],
            heading=_("Window and resolutions"),
        ),
        MultiFieldPanel(
            [
                FieldPanel("currency"),
                FieldRowPanel(
                    [
                        FieldPanel("fault_shipping_payer"),
                        FieldPanel("fault_shipping_cost"),
                    ],
                    heading=_("The shop is at fault (defect, wrong item, damaged)"),
                ),
                FieldRowPanel(
                    [
                        FieldPanel("remorse_shipping_payer"),
                        FieldPanel("remorse_shipping_cost"),
                    ],
                    heading=_("Change of mind"),
                ),
                FieldPanel("restocking_fee_percent"),
            ],
            heading=_("Return shipping and fees"),
        ),
        MultiFieldPanel(
            [
                FieldPanel("not_returnable"),
                FieldPanel("not_returnable_reason"),
                FieldRowPanel(
                    [
                        FieldPanel("returnless_max_item_value"),
                        FieldPanel("returnless_min_cost_ratio"),
                    ],
                    heading=_("Returnless refund"),
                ),
            ],
            heading=_("Exceptions"),
        ),
    ]
    edit_handler = TabbedInterface(
        [
            ObjectList(content_panels, heading=_("Content")),
            ObjectList(rules_panels, heading=_("Rules")),
            ObjectList(Page.promote_panels, heading=_("Promote")),
            ObjectList(Page.settings_panels, heading=_("Settings")),
        ]
    )

    parent_page_types = ["cms.ReturnPolicyIndexPage"]
    subpage_types: list[str] = []

    class Meta:
        verbose_name = _("return policy")
        verbose_name_plural = _("return policies")

    def get_context(self, request, *args, **kwargs):
        from cms import policy_text
        from cms.rules import PolicyRules

        context = super().get_context(request, *args, **kwargs)
        rules = PolicyRules.from_page(self, url=self.get_full_url(request) or "")
        context |= {
            "rules": rules,
            "headline": policy_text.headline(rules),
            "rule_lines": policy_text.rule_lines(rules),
            "json_ld": policy_text.json_ld_script(rules),
        }
        return context

    @property
    def resolutions(self) -> tuple[str, ...]:
        offered = {
            Resolution.REFUND: self.offers_refund,
            Resolution.EXCHANGE: self.offers_exchange,
            Resolution.STORE_CREDIT: self.offers_store_credit,
            Resolution.REPAIR: self.offers_repair,
        }
        return tuple(str(key) for key, on in offered.items() if on)

    def clean(self):
        super().clean()
        errors: dict[str, list] = {}

        def error(field: str, message) -> None:
            errors.setdefault(field, []).append(message)

        if self.not_returnable:
            if not self.not_returnable_reason.strip():
                error(
                    "not_returnable_reason",
                    _("Say why these products cannot be returned."),
                )
        else:
            if not self.window_days:
                error(
                    "window_days",
                    _(
                        "Give a return window of at least one day, or mark the "
                        "products not returnable."
                    ),
                )
            if not self.resolutions:
                error(
                    "offers_refund",
                    _(
                        "Offer at least one resolution: refund, exchange, store "
                        "credit or repair."
                    ),
                )
        if self.store_credit_bonus_percent and not self.offers_store_credit:
            error(
                "store_credit_bonus_percent",
                _("A store credit bonus needs store credit to be offered."),
            )
        if self.is_default and self.locale_id:
            others = ReturnPolicyPage.objects.filter(
                locale_id=self.locale_id, is_default=True
            )
            if self.pk:
                others = others.exclude(pk=self.pk)
            other = others.first()
            if other is not None:
                error(
                    "is_default",
                    _("“%(title)s” is already the default policy in this language.")
                    % {"title": other.title},
                )
        if errors:
            raise ValidationError(errors)


class PolicySnapshot(models.Model):
    """A return policy's rules as published from `valid_from` until `valid_to`
    (open while it is the live version). Written by `cms.services` on publish, closed
    by the next publish, an unpublish or a delete; never edited otherwise."""

    page_id = models.PositiveIntegerField(_("page id"), db_index=True)
    translation_key = models.UUIDField(_("translation key"))
    locale = models.CharField(_("language"), max_length=8)
    revision_id = models.PositiveIntegerField(_("revision id"), null=True)
    title = models.CharField(_("title"), max_length=255)
    summary = models.TextField(_("summary"), blank=True)
    url = models.CharField(_("address"), max_length=500, blank=True)
    is_default = models.BooleanField(_("default policy"), default=False)
    rules = models.JSONField(_("rules"))
    valid_from = models.DateTimeField(_("valid from"))
    valid_to = models.DateTimeField(_("valid until"), null=True, blank=True)

    class Meta:
        verbose_name = _("published policy")
        verbose_name_plural = _("published policies")
        ordering = ["-valid_from", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["page_id"],
                condition=Q(valid_to__isnull=True),
                name="policy_snapshot_one_open_per_page",
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True)
                | Q(valid_to__gte=models.F("valid_from")),
                name="policy_snapshot_valid_to_after_from",
            ),
        ]
        indexes = [
            models.Index(
                fields=["locale", "is_default", "valid_from"],
                name="policy_snapshot_default_idx",
            )
        ]

    def __str__(self):
        return f"{self.title} ({self.locale}, {self.valid_from:%Y-%m-%d %H:%M})"


class PolicySnapshotTarget(models.Model):
    """A category or product a snapshot applies to: plain ids, not foreign keys, so
    the history survives a product or category being deleted."""

    snapshot = models.ForeignKey(
        PolicySnapshot, on_delete=models.CASCADE, related_name="targets"
    )
    category_id = models.PositiveBigIntegerField(null=True, db_index=True)
    product_id = models.PositiveBigIntegerField(null=True, db_index=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(category_id__isnull=True, product_id__isnull=False)
                | Q(category_id__isnull=False, product_id__isnull=True),
                name="policy_snapshot_target_one_kind",
            )
        ]

    def __str__(self):
        if self.product_id:
            return f"product {self.product_id}"
        return f"category {self.category_id}"
