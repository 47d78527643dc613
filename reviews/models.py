"""Verified-purchase reviews: one per order line, photos, helpful votes, the shop's
reply, and an event row for every status change (see reviews/services.py)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel, MultiFieldPanel
from wagtail.contrib.settings.models import BaseGenericSetting, register_setting

from shop.models import Customer, Language, OrderLine, Product


class ReviewStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for moderation")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    # Taken down after approval for breaking the rules; its points are reversed.
    REMOVED = "removed", _("Removed")
    # Deleted by its author. The row stays so the line cannot earn twice; writing
    # again on that line reuses the row and goes back to pending.
    WITHDRAWN = "withdrawn", _("Withdrawn")


class Review(models.Model):
    order_line = models.OneToOneField(
        OrderLine,
        verbose_name=_("order line"),
        on_delete=models.PROTECT,
        related_name="review",
    )
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="reviews",
    )
    product = models.ForeignKey(
        Product,
        verbose_name=_("product"),
        on_delete=models.PROTECT,
        related_name="reviews",
    )
    rating = models.PositiveSmallIntegerField(_("rating"))
    title = models.CharField(_("title"), max_length=120)
    body = models.TextField(_("review"), max_length=5000)
    language = models.CharField(
        _("language"), max_length=2, choices=Language.choices, default=Language.ENGLISH
    )
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=ReviewStatus.choices,
        default=ReviewStatus.PENDING,
    )
    flags = models.JSONField(_("flags"), default=list, blank=True)
    may_quote = models.BooleanField(
        _("the shop may quote this review in e-mails"), default=False
    )
    rewarded = models.BooleanField(
        _("received points"),
        default=False,
        help_text=_("Points were given for this review; it is shown as incentivised."),
    )
    points_awarded = models.IntegerField(_("points awarded"), default=0)
    rejection_reason = models.TextField(_("reason"), blank=True)
    reply_body = models.TextField(_("reply from the shop"), blank=True)
    reply_at = models.DateTimeField(_("replied at"), null=True, blank=True)
    reply_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("replied by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    helpful_count = models.PositiveIntegerField(_("helpful votes"), default=0)
    photo_count = models.PositiveSmallIntegerField(_("photos"), default=0)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    submitted_at = models.DateTimeField(_("submitted at"), default=timezone.now)
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    moderated_at = models.DateTimeField(_("moderated at"), null=True, blank=True)
    moderated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("moderated by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("review")
        verbose_name_plural = _("reviews")
        ordering = ["-submitted_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__gte=1, rating__lte=5), name="review_rating_1_to_5"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ReviewStatus.values),
                name="review_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(points_awarded__gte=0), name="review_points_not_negative"
            ),
        ]
        indexes = [
            models.Index(
                fields=["product", "status", "-approved_at"],
                name="review_product_status",
            ),
            models.Index(fields=["status", "-submitted_at"], name="review_queue"),
            models.Index(fields=["customer"], name="review_customer"),
        ]
        permissions = [("moderate_review", _("Can moderate reviews"))]

    def __str__(self):
        return f"#{self.pk} {self.rating}★ {self.title}"

    @property
    def is_public(self) -> bool:
        return self.status == ReviewStatus.APPROVED


class ReviewPhoto(models.Model):
    review = models.ForeignKey(
        Review,
        verbose_name=_("review"),
        on_delete=models.CASCADE,
        related_name="photos",
    )
    # The original stripped of metadata and re-encoded (config/photos.py).
    image = models.ImageField(
        _("photo"),
        upload_to="reviews/%Y/%m/",
        width_field="width",
        height_field="height",
    )
    thumbnail = models.ImageField(_("thumbnail"), upload_to="reviews/%Y/%m/thumbs/")
    width = models.PositiveIntegerField(_("width"), default=0)
    height = models.PositiveIntegerField(_("height"), default=0)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("review photo")
        verbose_name_plural = _("review photos")
        ordering = ["review", "position", "pk"]

    def __str__(self):
        return f"{self.review_id}:{self.position}"


class HelpfulVote(models.Model):
    review = models.ForeignKey(
        Review, on_delete=models.CASCADE, related_name="helpful_votes"
    )
    # "user:<id>" for a signed-in person, "anon:<signed cookie id>" otherwise.
    voter = models.CharField(_("voter"), max_length=80)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("helpful vote")
        verbose_name_plural = _("helpful votes")
        constraints = [
            models.UniqueConstraint(
                fields=["review", "voter"], name="helpful_vote_once"
            ),
        ]

    def __str__(self):
        return f"{self.review_id}:{self.voter}"


class ReviewEvent(models.Model):
    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(
        _("from"), max_length=10, choices=ReviewStatus.choices, blank=True
    )
    to_status = models.CharField(_("to"), max_length=10, choices=ReviewStatus.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    note = models.TextField(_("note"), blank=True)
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        verbose_name = _("review event")
        verbose_name_plural = _("review events")
        ordering = ["occurred_at", "pk"]

    def __str__(self):
        return f"{self.review_id}: {self.from_status or '-'} → {self.to_status}"


@register_setting(icon="comment")
class ReviewSettings(BaseGenericSetting):
    auto_approve_clean = models.BooleanField(
        _("approve clean reviews automatically"),
        default=False,
        help_text=_(
            "Reviews without any automatic flag are published without a moderator. "
            "The rating never decides this."
        ),
    )
    min_body_length = models.PositiveIntegerField(
        _("shortest text not flagged as very short"), default=20
    )
    max_photos = models.PositiveSmallIntegerField(_("photos per review"), default=5)
    submissions_per_hour = models.PositiveIntegerField(
        _("reviews a customer may submit per hour"), default=20
    )
    votes_per_hour = models.PositiveIntegerField(
        _("helpful votes a visitor may cast per hour"), default=60
    )

    panels = [
        MultiFieldPanel(
            [FieldPanel("auto_approve_clean"), FieldPanel("min_body_length")],
            heading=_("Moderation"),
        ),
        MultiFieldPanel(
            [
                FieldPanel("max_photos"),
                FieldPanel("submissions_per_hour"),
                FieldPanel("votes_per_hour"),
            ],
            heading=_("Limits"),
        ),
    ]

    class Meta:
        verbose_name = _("review settings")


# Wagtail page models live in reviews/pages.py; imported here so Django finds them.
from reviews.pages import FeedbackWallPage, ReviewPolicyPage  # noqa: E402,F401
