"""Loyalty in the Wagtail admin: a "Loyalty" menu with points accounts (balance,
ledger, manual adjustment), coupons, the rewards catalogue and the report.

Accounts, entries and coupons are read-only here: every change goes through a service
(the adjustment form calls `services.adjust`). The returns team and marketing get
these permissions in loyalty/migrations/0002; customers never reach the admin.
"""

import uuid
from datetime import datetime
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from wagtail import hooks
from wagtail.admin.filters import WagtailFilterSet
from wagtail.admin.menu import MenuItem
from wagtail.admin.panels import FieldPanel, FieldRowPanel
from wagtail.admin.ui.tables import Column, DateColumn
from wagtail.admin.viewsets.base import ViewSet
from wagtail.permissions import register_permission_policy
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import (
    InspectView,
    SnippetViewSet,
    SnippetViewSetGroup,
)

from loyalty import services
from loyalty.forms import AdjustForm
from loyalty.models import (
    Coupon,
    LoyaltySettings,
    PointsAccount,
    Reward,
    StoreCreditAccount,
)
from loyalty.queries import (
    outstanding_points,
    outstanding_store_credit,
    points_per_month,
)
from shop.wagtail_hooks import ReadOnlyViewSet, RestrictedPermissionPolicy

SUBMENU_HOOK = "register_loyalty_menu_item"
LEDGER_LENGTH = 200
REPORT_MONTHS = 12

for model in (PointsAccount, Coupon, StoreCreditAccount):
    register_permission_policy(
        model, RestrictedPermissionPolicy(model, actions={"view"})
    )


# Points accounts ------------------------------------------------------------------------


class AccountInspectView(InspectView):
    """The account with its ledger (newest first) and a link to adjust it."""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["entries"] = self.object.entries.select_related("created_by")[
            :LEDGER_LENGTH
        ]
        if self.request.user.has_perm("loyalty.adjust_points"):
            context["adjust_url"] = self.adjust_url
        return context

    @cached_property
    def adjust_url(self):
        return reverse("loyalty_accounts:adjust", args=[self.object.pk])


class PointsAccountFilterSet(WagtailFilterSet):
    class Meta:
        model = PointsAccount
        fields = []


class PointsAccountViewSet(ReadOnlyViewSet):
    model = PointsAccount
    icon = "pick"
    url_prefix = "loyalty/accounts"
    url_namespace = "loyalty_accounts"
    menu_label = gettext_lazy("Points accounts")
    search_fields = ["customer__email"]
    list_display = [
        "customer",
        Column("balance", label=gettext_lazy("balance"), sort_key="balance"),
        DateColumn("last_activity_at", label=gettext_lazy("last activity")),
        DateColumn("expires_at", label=gettext_lazy("expires")),
    ]
    inspect_view_class = AccountInspectView
    inspect_template_name = "loyalty/admin/account_inspect.html"
    inspect_view_fields = ["customer", "balance", "last_activity_at", "expires_at"]

    def get_queryset(self, request):
        return PointsAccount.objects.select_related("customer")

    def get_urlpatterns(self):
        return super().get_urlpatterns() + [
            path("<int:pk>/adjust/", adjust_view, name="adjust"),
        ]


def adjust_view(request, pk: int):
    """Add or take points by hand, with a mandatory reason; who and when are kept."""
    if not request.user.has_perm("loyalty.adjust_points"):
        raise PermissionDenied
    account = get_object_or_404(PointsAccount.objects.select_related("customer"), pk=pk)
    form = AdjustForm(request.POST or None, initial={"key": uuid.uuid4()})
    if request.method == "POST" and form.is_valid():
        try:
            services.adjust(
                customer=account.customer,
                points=form.cleaned_data["points"],
                reason=form.cleaned_data["reason"],
                by=request.user,
                key=f"adjust-form:{form.cleaned_data['key']}",
            )
        except services.InsufficientPoints as exc:
            form.add_error("points", str(exc))
        else:
            messages.success(
                request,
                _("Adjusted %(customer)s by %(points)+d points.")
                % {"customer": account.customer, "points": form.cleaned_data["points"]},
            )
            return redirect("loyalty_accounts:inspect", account.pk)
    return render(
        request,
        "loyalty/admin/adjust.html",
        {
            "account": account,
            "form": form,
            "header_title": _("Adjust points"),
            "entries": account.entries.select_related("created_by")[:20],
        },
    )


# Coupons and rewards --------------------------------------------------------------------


class CouponFilterSet(WagtailFilterSet):
    class Meta:
        model = Coupon
        fields = ["kind"]


class CouponViewSet(ReadOnlyViewSet):
    model = Coupon
    icon = "tag"
    url_prefix = "loyalty/coupons"
    url_namespace = "loyalty_coupons"
    search_fields = ["code", "customer__email"]
    filterset_class = CouponFilterSet
    list_display = [
        "code",
        "customer",
        "kind",
        "value",
        "currency",
        DateColumn("expires_at", label=gettext_lazy("expires")),
        DateColumn("created_at", label=gettext_lazy("issued")),
    ]
    inspect_view_fields = [
        "code",
        "kind",
        "customer",
        "reward",
        "value",
        "currency",
        "expires_at",
        "created_at",
    ]

    def get_queryset(self, request):
        return Coupon.objects.select_related("customer")


class StoreCreditAccountViewSet(ReadOnlyViewSet):
    model = StoreCreditAccount
    icon = "doc-full"
    url_prefix = "loyalty/store-credit"
    url_namespace = "loyalty_store_credit"
    search_fields = ["customer__email"]
    list_display = ["customer", "currency", "balance"]
    inspect_view_fields = ["customer", "currency", "balance", "created_at"]

    def get_queryset(self, request):
        return StoreCreditAccount.objects.select_related("customer")


class RewardFilterSet(WagtailFilterSet):
    class Meta:
        model = Reward
        fields = ["kind", "active"]


class RewardViewSet(SnippetViewSet):
    model = Reward
    add_to_reference_index = False
    copy_view_enabled = False
    panels = [
        FieldPanel("name"),
        FieldPanel("description"),
        FieldPanel("kind"),
        FieldRowPanel([FieldPanel("value"), FieldPanel("currency")]),
        FieldPanel("points_cost"),
        FieldRowPanel(
            [FieldPanel("coupon_valid_days"), FieldPanel("per_customer_limit")]
        ),
        FieldRowPanel([FieldPanel("active"), FieldPanel("sort_order")]),
    ]

    icon = "pick"
    url_prefix = "loyalty/rewards"
    url_namespace = "loyalty_rewards"
    search_fields = ["name"]
    filterset_class = RewardFilterSet
    list_display = ["name", "kind", "points_cost", "value", "currency", "active"]
    inspect_view_fields = [
        "name",
        "description",
        "kind",
        "points_cost",
        "value",
        "currency",
        "coupon_valid_days",
        "per_customer_limit",
        "active",
    ]


# Report ---------------------------------------------------------------------------------

CHART_HEIGHT = 160
BAR_WIDTH = 12
GROUP_WIDTH = 48


def chart_bars(months) -> list[dict]:
    """Inline-SVG geometry for grouped bars: issued, redeemed, expired per month."""
    peak = max(
        [max(m.issued, m.redeemed, m.expired) for m in months] + [1],
    )
    bars = []
    for index, month in enumerate(months):
        for offset, (series, value) in enumerate(
            (
                ("issued", month.issued),
                ("redeemed", month.redeemed),
                ("expired", month.expired),
            )
        ):
            height = round(max(value, 0) * CHART_HEIGHT / peak)
            bars.append(
                {
                    "series": series,
                    "value": value,
                    "x": index * GROUP_WIDTH + offset * BAR_WIDTH + 4,
                    "y": CHART_HEIGHT - height,
                    "height": height,
                    "month": month.month,
                }
            )
    return bars


def report_view(request):
    if not request.user.has_perm("loyalty.view_loyalty_report"):
        raise PermissionDenied
    now = timezone.now()
    since = datetime(now.year, now.month, 1, tzinfo=now.tzinfo) - relativedelta(
        months=REPORT_MONTHS - 1
    )
    months = points_per_month(since=since)
    rules = LoyaltySettings.load(request_or_site=request)
    points = outstanding_points()
    return render(
        request,
        "loyalty/admin/report.html",
        {
            "header_title": _("Loyalty report"),
            "months": months,
            "bars": chart_bars(months),
            "chart_width": max(len(months), 1) * GROUP_WIDTH,
            "chart_height": CHART_HEIGHT,
            "outstanding_points": points,
            "euro_per_point": rules.euro_per_point,
            "liability": (points * rules.euro_per_point).quantize(Decimal("0.01")),
            "store_credit": outstanding_store_credit(),
        },
    )


class ReportViewSet(ViewSet):
    name = "loyalty_report"
    url_prefix = "loyalty/report"
    icon = "table"
    menu_label = gettext_lazy("Report")
    menu_hook = SUBMENU_HOOK

    @cached_property
    def menu_item_class(self):
        class ReportMenuItem(MenuItem):
            def is_shown(self, request):
                return request.user.has_perm("loyalty.view_loyalty_report")

        return ReportMenuItem

    def get_urlpatterns(self):
        return [path("", report_view, name="index")]


@hooks.register("register_admin_viewset")
def register_report_viewset():
    return ReportViewSet()


class LoyaltyViewSetGroup(SnippetViewSetGroup):
    menu_label = gettext_lazy("Loyalty")
    menu_icon = "pick"
    menu_order = 310
    submenu_hook = SUBMENU_HOOK
    items = (
        PointsAccountViewSet,
        CouponViewSet,
        StoreCreditAccountViewSet,
        RewardViewSet,
    )


register_snippet(LoyaltyViewSetGroup)
