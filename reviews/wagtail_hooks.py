"""Review moderation in the Wagtail admin: a "Reviews" queue with filters (status,
rating, product, automatic flag), a detail view with photos, flags and history, and
approve / reject / remove / reply one by one or approve / reject in bulk.

Reviews are never edited through a generic form: every change goes through
reviews/services.py. Seeing the queue needs `reviews.view_review`; acting needs
`reviews.moderate_review` (the "Moderators" group has both, reviews migration 0002).
"""

import django_filters
from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST
from wagtail import hooks
from wagtail.admin.filters import WagtailFilterSet
from wagtail.admin.ui.tables import Column, DateColumn
from wagtail.permissions import register_permission_policy
from wagtail.snippets.bulk_actions.snippet_bulk_action import SnippetBulkAction
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import InspectView, SnippetViewSet

from reviews import services
from reviews.checks import FLAGS, flag_labels
from reviews.models import Review, ReviewStatus
from reviews.queries import flagged, moderation_queue
from shop.models import Product
from shop.wagtail_hooks import RestrictedPermissionPolicy

MODERATE = "reviews.moderate_review"

register_permission_policy(Review, RestrictedPermissionPolicy(Review, actions={"view"}))


def can_moderate(user) -> bool:
    return user.has_perm(MODERATE)


# The queue ------------------------------------------------------------------------------


class ReviewFilterSet(WagtailFilterSet):
    status = django_filters.ChoiceFilter(
        label=gettext_lazy("status"), choices=ReviewStatus.choices
    )
    rating = django_filters.ChoiceFilter(
        label=gettext_lazy("rating"), choices=[(n, str(n)) for n in range(1, 6)]
    )
    product = django_filters.ModelChoiceFilter(
        label=gettext_lazy("product"), queryset=Product.objects.all()
    )
    flag = django_filters.ChoiceFilter(
        label=gettext_lazy("automatic flag"),
        choices=[(code, label) for code, label in FLAGS.items()],
        method="filter_flag",
    )

    class Meta:
        model = Review
        fields = ["status", "rating", "product", "flag", "language"]

    def filter_flag(self, queryset, name, value):
        return queryset.filter(flagged(value)) if value else queryset


class FlagsColumn(Column):
    def get_value(self, instance):
        return ", ".join(flag_labels(instance.flags)) or "–"


class ReviewInspectView(InspectView):
    template_name = "reviews/admin/review_inspect.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        review = self.object
        context |= {
            "review": review,
            "photos": review.photos.all(),
            "flag_names": flag_labels(review.flags),
            "events": review.events.select_related("by"),
            "can_moderate": can_moderate(self.request.user),
            "reason_form": ReasonForm(),
            "reply_form": ReplyForm(initial={"body": review.reply_body}),
            "action_urls": {
                action: reverse(f"reviews_queue:{action}", args=[review.pk])
                for action in ("approve", "reject", "remove", "reply")
            },
        }
        return context


class ReviewViewSet(SnippetViewSet):
    model = Review
    icon = "comment"
    menu_label = gettext_lazy("Reviews")
    menu_name = "reviews"
    menu_order = 320
    add_to_admin_menu = True
    url_prefix = "reviews/queue"
    url_namespace = "reviews_queue"
    inspect_view_enabled = True
    inspect_view_class = ReviewInspectView
    add_to_reference_index = False
    copy_view_enabled = False
    list_per_page = 50
    search_fields = ["title", "body", "customer__email", "product__sku"]
    filterset_class = ReviewFilterSet
    list_display = [
        "title",
        "product",
        Column("rating", label=gettext_lazy("rating"), sort_key="rating"),
        "status",
        FlagsColumn("flags", label=gettext_lazy("flags")),
        Column("photo_count", label=gettext_lazy("photos")),
        "language",
        DateColumn("submitted_at", label=gettext_lazy("submitted")),
    ]
    ordering = ["-submitted_at"]

    def get_queryset(self, request):
        return moderation_queue()

    def get_urlpatterns(self):
        return super().get_urlpatterns() + [
            path("<int:pk>/approve/", approve_view, name="approve"),
            path("<int:pk>/reject/", reject_view, name="reject"),
            path("<int:pk>/remove/", remove_view, name="remove"),
            path("<int:pk>/reply/", reply_view, name="reply"),
        ]


register_snippet(ReviewViewSet)


# One by one ------------------------------------------------------------------------------


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason (the customer reads it)"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class ReplyForm(forms.Form):
    body = forms.CharField(
        label=gettext_lazy("Public reply from the shop"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


def _moderated(request, pk: int, act):
    """Run one moderation service on the review; refusals become an error message."""
    if not can_moderate(request.user):
        raise PermissionDenied
    review = get_object_or_404(Review, pk=pk)
    try:
        act(review)
    except services.ReviewError as exc:
        messages.error(request, str(exc))
    return redirect("reviews_queue:inspect", pk)


@require_POST
def approve_view(request, pk: int):
    def act(review):
        services.approve(review=review, by=request.user)
        messages.success(request, _("Review approved."))

    return _moderated(request, pk, act)


def _with_reason(request, pk: int, service, done: str):
    form = ReasonForm(request.POST)

    def act(review):
        if not form.is_valid():
            raise services.ReasonRequired()
        service(review=review, by=request.user, reason=form.cleaned_data["reason"])
        messages.success(request, done)

    return _moderated(request, pk, act)


@require_POST
def reject_view(request, pk: int):
    return _with_reason(request, pk, services.reject, _("Review rejected."))


@require_POST
def remove_view(request, pk: int):
    return _with_reason(
        request, pk, services.remove, _("Review removed; its points were reversed.")
    )


@require_POST
def reply_view(request, pk: int):
    form = ReplyForm(request.POST)

    def act(review):
        if not form.is_valid():
            raise services.InvalidReview()
        services.reply(review=review, by=request.user, body=form.cleaned_data["body"])
        messages.success(request, _("Reply saved."))

    return _moderated(request, pk, act)


# In bulk -------------------------------------------------------------------------------


class ReviewBulkAction(SnippetBulkAction):
    models = [Review]

    def check_perm(self, obj):
        return can_moderate(self.request.user)

    def get_execution_context(self):
        return {**super().get_execution_context(), "user": self.request.user}

    @classmethod
    def execute_action(cls, objects, user=None, **kwargs):
        done = 0
        for review in objects:
            try:
                cls.act(review, user=user, **kwargs)
            except services.ReviewError:
                continue  # e.g. already removed; the others go ahead
            done += 1
        return done, 0


@hooks.register("register_bulk_action")
class ApproveBulkAction(ReviewBulkAction):
    display_name = gettext_lazy("Approve")
    action_type = "approve"
    aria_label = gettext_lazy("Approve the selected reviews")
    template_name = "reviews/admin/bulk_approve.html"
    action_priority = 10

    @classmethod
    def act(cls, review, *, user, **kwargs):
        services.approve(review=review, by=user)

    def get_success_message(self, num_parent_objects, num_child_objects):
        return ngettext(
            "{count} review approved.",
            "{count} reviews approved.",
            num_parent_objects,
        ).format(count=num_parent_objects)


class BulkRejectForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason (each customer reads it)"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


@hooks.register("register_bulk_action")
class RejectBulkAction(ReviewBulkAction):
    display_name = gettext_lazy("Reject")
    action_type = "reject"
    aria_label = gettext_lazy("Reject the selected reviews")
    template_name = "reviews/admin/bulk_reject.html"
    action_priority = 20
    form_class = BulkRejectForm

    def get_execution_context(self):
        return {
            **super().get_execution_context(),
            "reason": self.cleaned_form.cleaned_data["reason"],
        }

    @classmethod
    def act(cls, review, *, user, reason, **kwargs):
        services.reject(review=review, by=user, reason=reason)

    def get_success_message(self, num_parent_objects, num_child_objects):
        return ngettext(
            "{count} review rejected.",
            "{count} reviews rejected.",
            num_parent_objects,
        ).format(count=num_parent_objects)
