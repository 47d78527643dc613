"""Campaigns: post-purchase e-mails, review requests and promotions, each with its
content per language (and per variant), the audience rules of promotions, and one
Assignment per customer/order the campaign reached, recorded even when no mail is sent
(the holdout, a skipped customer) so the holdout comparison in analysis.py is honest.
How a campaign moves is in services.py."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.validators import (
    MaxValueValidator,
    MinValueValidator,
    RegexValidator,
)
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey
from modelcluster.models import ClusterableModel
from wagtail.fields import StreamField

from campaigns.blocks import CampaignStreamBlock
from emails.models import Message
from shop.models import Category, Customer, Language, Order


class CampaignKind(models.TextChoices):
    POST_PURCHASE = "post_purchase", _("Post-purchase")
    REVIEW_REQUEST = "review_request", _("Review request")
    PROMOTION = "promotion", _("Promotion")


TRIGGER_KINDS = frozenset({CampaignKind.POST_PURCHASE, CampaignKind.REVIEW_REQUEST})


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ACTIVE = "active", _("Active")
    PAUSED = "paused", _("Paused")
    FINISHED = "finished", _("Finished")


S = CampaignStatus
# Every move a campaign may make; services.py refuses any other.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    S.DRAFT: frozenset({S.ACTIVE, S.FINISHED}),
    S.ACTIVE: frozenset({S.PAUSED, S.FINISHED}),
    S.PAUSED: frozenset({S.ACTIVE, S.FINISHED}),
    S.FINISHED: frozenset(),
}


class Trigger(models.TextChoices):
    DELIVERED = "delivered", _("Delivered")
    PLACED = "placed", _("Ordered")


class ReviewSelection(models.TextChoices):
    TOP_RATED = "top_rated", _("Top rated")
    MOST_HELPFUL = "most_helpful", _("Most helpful")
    SIMILAR_BUYER = "similar_buyer", _("Most similar buyer")


def _languages_default() -> list[str]:
    return []


class Campaign(ClusterableModel):
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=CampaignKind.choices)
    status = models.CharField(
        _("status"),
        max_length=20,
        choices=CampaignStatus.choices,
        default=CampaignStatus.DRAFT,
        editable=False,
    )
    # Trigger campaigns (post-purchase, review request).
    trigger = models.CharField(
        _("send after"),
        max_length=20,
        choices=Trigger.choices,
        default=Trigger.DELIVERED,
    )
    delay_days = models.PositiveSmallIntegerField(
        _("days after"),
        default=3,
        validators=[MaxValueValidator(365)],
        help_text=_(
            "Sent on this day after delivery (or the order), counted in "
            "the shop's calendar days."
        ),
    )
    window_start = models.TimeField(
        _("send from"),
        default=dt.time(9, 0),
        help_text=_("Local time in the shop's time zone."),
    )
    window_end = models.TimeField(
        _("send until"),
        default=dt.time(20, 0),
        help_text=_("Local time in the shop's time zone."),
    )
    holdout_percent = models.PositiveSmallIntegerField(
        _("holdout (percent)"),
        default=10,
        validators=[MinValueValidator(0), MaxValueValidator(50)],
        help_text=_("This share of customers gets no e-mail, to measure the effect."),
    )
    reminder_after_days = models.PositiveSmallIntegerField(
        _("reminder after (days)"),
        null=True,
        blank=True,
        help_text=_(
            "Review requests: one reminder this many days later if nothing "
            "was written. Empty: no reminder."
        ),
    )
    reviews_per_product = models.PositiveSmallIntegerField(
        _("reviews per product"), default=3, validators=[MaxValueValidator(5)]
    )
    frequency_cap_exempt = models.BooleanField(
        _("exempt from the frequency cap"),
        default=False,
        help_text=_("Only for service-like mail, such as review requests."),
    )
    # Promotions.
    scheduled_at = models.DateTimeField(_("send at"), null=True, blank=True)
    languages = models.JSONField(
        _("languages"),
        default=_languages_default,
        blank=True,
        help_text=_("Empty: every language."),
    )
    category = models.ForeignKey(
        Category,
        verbose_name=_("bought in category"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    ordered_within_days = models.PositiveSmallIntegerField(
        _("ordered in the last (days)"), null=True, blank=True
    )
    persona = models.CharField(
        _("persona"), max_length=30, blank=True, help_text=_("Empty: any persona.")
    )
    include_serial_returners = models.BooleanField(
        _("include serial returners"), default=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    activated_at = models.DateTimeField(
        _("activated at"), null=True, blank=True, editable=False
    )
    # Promotions: set once the audience has been expanded completely.
    expanded_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(holdout_percent__lte=50), name="campaign_holdout_at_most_50"
            ),
            models.CheckConstraint(
                condition=~Q(kind="promotion")
                | Q(status="draft")
                | Q(scheduled_at__isnull=False),
                name="campaign_promotion_scheduled",
            ),
        ]
        indexes = [models.Index(fields=["status", "kind"], name="campaign_status")]

    def __str__(self):
        return self.name

    @property
    def is_trigger(self) -> bool:
        return self.kind in TRIGGER_KINDS

    @property
    def sender_label(self) -> str:
        return f"campaign:{self.pk}"


class CampaignEvent(models.Model):
    """One row per status transition (who, when, from → to)."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="events"
    )
    from_status = models.CharField(
        max_length=20, choices=CampaignStatus.choices, blank=True
    )
    to_status = models.CharField(max_length=20, choices=CampaignStatus.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    note = models.CharField(max_length=255, blank=True)
    occurred_at = models.DateTimeField()

    class Meta:
        verbose_name = _("campaign event")
        verbose_name_plural = _("campaign events")
        ordering = ["occurred_at", "pk"]

    def __str__(self):
        return f"{self.from_status or '∅'} → {self.to_status}"


class CampaignVariant(models.Model):
    """An arm of an A/B test; a campaign without rows has one implicit variant A.
    Edited inline in the campaign's form."""

    campaign = ParentalKey(Campaign, on_delete=models.CASCADE, related_name="variants")
    code = models.CharField(
        _("code"),
        max_length=2,
        default="A",
        validators=[
            RegexValidator(
                r"^[A-Z0-9]{1,2}$", _("One or two capital letters or digits.")
            )
        ],
        help_text=_("A, B, …: contents name their variant by this code."),
    )
    name = models.CharField(_("name"), max_length=100, blank=True)
    weight = models.PositiveSmallIntegerField(
        _("weight"), default=1, validators=[MinValueValidator(1)]
    )
    review_selection = models.CharField(
        _("reviews chosen by"),
        max_length=20,
        choices=ReviewSelection.choices,
        default=ReviewSelection.TOP_RATED,
    )

    class Meta:
        verbose_name = _("variant")
        verbose_name_plural = _("variants")
        ordering = ["campaign", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "code"], name="campaign_variant_code"
            ),
            models.CheckConstraint(
                condition=Q(weight__gte=1), name="campaign_variant_weight_positive"
            ),
        ]

    def __str__(self):
        return f"{self.code} {self.name}".strip()


class CampaignContent(models.Model):
    """The e-mail in one language, for every variant or one variant's own (by its
    code, so a content and a variant added in the same edit can refer to each
    other). Edited inline in the campaign's form."""

    campaign = ParentalKey(Campaign, on_delete=models.CASCADE, related_name="contents")
    variant_code = models.CharField(
        _("variant"),
        max_length=2,
        blank=True,
        help_text=_(
            "A variant's code for its own content. Empty: used by every variant "
            "without its own content."
        ),
    )
    language = models.CharField(_("language"), max_length=2, choices=Language.choices)
    subject = models.CharField(_("subject"), max_length=200)
    preheader = models.CharField(_("preheader"), max_length=200, blank=True)
    body = StreamField(CampaignStreamBlock(), verbose_name=_("body"), blank=True)

    class Meta:
        verbose_name = _("content")
        verbose_name_plural = _("contents")
        ordering = ["campaign", "variant_code", "language"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "variant_code", "language"],
                name="campaign_content_per_language",
            ),
        ]

    def __str__(self):
        return f"{self.campaign} ({self.language})"


class Group(models.TextChoices):
    TREATMENT = "treatment", _("Treatment")
    HOLDOUT = "holdout", _("Holdout")


class SkipReason(models.TextChoices):
    RETURNING = "returning", _("Already started a return")
    NO_CONSENT = "no_consent", _("No marketing consent")
    SUPPRESSED = "suppressed", _("Address suppressed")
    NOTHING_TO_REVIEW = "nothing_to_review", _("Nothing left to review")


class Assignment(models.Model):
    """A customer (and order, for trigger campaigns) the campaign reached: treatment
    or holdout, decided by a hash so a rerun gives the same split."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="assignments"
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="campaign_assignments"
    )
    order = models.ForeignKey(
        Order,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="campaign_assignments",
    )
    variant = models.ForeignKey(
        CampaignVariant,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assignments",
    )
    variant_code = models.CharField(max_length=2, default="A")
    group = models.CharField(max_length=10, choices=Group.choices)
    key = models.CharField(max_length=200, unique=True)
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reminder_message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    skipped_reason = models.CharField(
        max_length=30, choices=SkipReason.choices, blank=True
    )
    assigned_at = models.DateTimeField()

    class Meta:
        verbose_name = _("assignment")
        verbose_name_plural = _("assignments")
        ordering = ["campaign", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(group="holdout") | Q(message__isnull=True),
                name="campaign_assignment_holdout_no_message",
            ),
        ]
        indexes = [
            models.Index(fields=["campaign", "group", "variant_code"]),
            models.Index(fields=["order", "campaign"]),
        ]

    def __str__(self):
        return self.key


class CustomerTimeZone(models.Model):
    """A customer's time zone where known (quiet hours follow it); others get the
    shop's."""

    customer = models.OneToOneField(
        Customer, on_delete=models.CASCADE, related_name="campaign_time_zone"
    )
    time_zone = models.CharField(_("time zone"), max_length=64)

    class Meta:
        verbose_name = _("customer time zone")
        verbose_name_plural = _("customer time zones")

    def __str__(self):
        return self.time_zone
