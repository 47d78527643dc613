"""The "Returns insights" admin pages: dashboard, products to fix (with the CSV export
and "mark fixed"), fulfilment centres, serial returners (with the override) and
personas.

Each view checks `insights.view_insights`, parses its form, calls insights.queries
(reads) or insights.services (the two writes) and renders. Anyone without the
permission gets a plain 403 page (not Wagtail's redirect to the dashboard).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from decimal import Decimal
from functools import wraps

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from insights import charts, queries, services
from insights.forms import MarkFixedForm, OverrideForm, PeriodForm
from insights.models import CustomerInsight
from shop.models import Product

PERMISSION = "insights.view_insights"
PRODUCTS_SHOWN = 200
FIXES_SHOWN = 50
REASONS_SHOWN = 10
SERIAL_PER_PAGE = 50
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def forbidden(request):
    return render(
        request,
        "insights/admin/forbidden.html",
        {"header_title": _("No access")},
        status=403,
    )


def insights_only(view: Callable) -> Callable:
    @wraps(view)
    def checked(request, *args, **kwargs):
        if not request.user.has_perm(PERMISSION):
            return forbidden(request)
        return view(request, *args, **kwargs)

    return checked


def _month(value) -> str:
    return date_format(value, "YEAR_MONTH_FORMAT")


def _period(request, *, with_category: bool = True) -> tuple[PeriodForm, dict]:
    form = PeriodForm(request.GET or None, with_category=with_category)
    return form, form.period()


# Dashboard -----------------------------------------------------------------------------


def dashboard_charts(months, overview, areas) -> dict[str, charts.Chart]:
    labels = [_month(row.month) for row in months]
    month_column = _("Month")
    return {
        "trend": charts.line_chart(
            chart_id="insights-trend",
            title=_("Return rate per month"),
            description=_(
                "Returned units divided by delivered units, and the same by value, "
                "for orders placed in each month."
            ),
            labels=labels,
            series=[
                charts.Series(_("By units"), [row.unit_rate for row in months]),
                charts.Series(_("By value"), [row.value_rate for row in months]),
            ],
            first_column=month_column,
            fmt="percent",
        ),
        "split": charts.stacked_bar_chart(
            chart_id="insights-split",
            title=_("Controllable and uncontrollable returns"),
            description=_(
                "Returned units the shop caused (it can fix them) and those it did not."
            ),
            labels=[_("Returned units")],
            series=[
                charts.Series(_("Controllable"), [overview.controllable_units]),
                charts.Series(_("Uncontrollable"), [overview.uncontrollable_units]),
            ],
            first_column=_("Returns"),
            total_label=_("Total"),
        ),
        "areas": charts.bar_chart(
            chart_id="insights-areas",
            title=_("Returned units by fix area"),
            description=_("Where a fix belongs, by the reason of each returned unit."),
            labels=[row.label for row in areas],
            values=[row.units for row in areas],
            first_column=_("Fix area"),
            value_label=_("Returned units"),
        ),
        "costs": charts.stacked_bar_chart(
            chart_id="insights-costs",
            title=_("Cost of returns per month"),
            description=_(
                "Return shipping, handling and refunds of the returns filed in each "
                "month, and the value recovered from them."
            ),
            labels=labels,
            series=[
                charts.Series(_("Shipping"), [row.shipping_cost for row in months]),
                charts.Series(_("Handling"), [row.handling_cost for row in months]),
                charts.Series(_("Refunds"), [row.refunds for row in months]),
            ],
            extra=[
                charts.Series(
                    _("Value recovered"), [row.value_recovered for row in months]
                )
            ],
            first_column=month_column,
            fmt="money",
            total_label=_("Total cost"),
        ),
    }


@insights_only
def dashboard_view(request):
    form, period = _period(request)
    overview = queries.overview(**period)
    months = queries.monthly(**period)
    areas = queries.fix_area_split(**period)
    return render(
        request,
        "insights/admin/dashboard.html",
        {
            "header_title": _("Returns insights"),
            "form": form,
            "period": period,
            "overview": overview,
            "charts": dashboard_charts(months, overview, areas),
            "reasons": queries.top_reasons(**period, limit=REASONS_SHOWN),
        },
    )


# Products to fix -----------------------------------------------------------------------


@insights_only
def products_view(request):
    form, period = _period(request)
    rows = queries.products_to_fix(**period, limit=PRODUCTS_SHOWN)
    return render(
        request,
        "insights/admin/products.html",
        {
            "header_title": _("Products to fix"),
            "form": form,
            "period": period,
            "rows": rows,
            "limit": PRODUCTS_SHOWN,
            "fixes": queries.product_fixes(limit=FIXES_SHOWN),
            "export_query": request.GET.urlencode(),
        },
    )


def csv_cell(value) -> str | int | Decimal:
    """A value as a spreadsheet should read it: text that starts like a formula
    (=, +, -, @, tab, carriage return) gets a leading apostrophe, so a customer's
    comment can never run as a formula."""
    if value is None:
        return ""
    if isinstance(value, int | Decimal):
        return value
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def product_csv_rows(rows: Iterable[queries.ProductRow]) -> Iterable[list]:
    yield [
        "sku",
        "name",
        "category",
        "units",
        "returned_units",
        "return_rate",
        "controllable_return_rate",
        "category_controllable_rate",
        "wilson_lower",
        "excess",
        "money_lost",
        "priority",
        "fix_area",
        "top_reasons",
        "quotes",
        "fixed_on",
        "rate_before_fix",
        "rate_after_fix",
    ]
    for row in rows:
        fix = row.latest_fix
        yield [
            csv_cell(value)
            for value in (
                row.sku,
                row.name,
                row.category,
                row.units,
                row.returned_units,
                row.return_rate,
                row.controllable_return_rate,
                row.category_controllable_rate,
                row.wilson_lower,
                row.excess,
                row.money_lost,
                row.priority,
                row.fix_area,
                "; ".join(
                    f"{reason.label} ({reason.units})" for reason in row.top_reasons
                ),
                " | ".join(row.quotes),
                fix.fixed_on.isoformat() if fix else "",
                row.rate_before_fix,
                row.rate_after_fix,
            )
        ]


@insights_only
def products_export_view(request):
    _form, period = _period(request)
    rows = queries.products_to_fix(**period)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="products-to-fix-{period["start"]}-{period["end"]}.csv"'
    )
    writer = csv.writer(response)
    writer.writerows(product_csv_rows(rows))
    return response


@insights_only
def mark_fixed_view(request, product_id: int):
    product = get_object_or_404(
        Product.objects.select_related("category"), pk=product_id
    )
    form = MarkFixedForm(
        request.POST if request.method == "POST" else None,
        initial={"fixed_on": timezone.localdate(), "area": request.GET.get("area")},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.mark_fixed(
                product=product,
                fixed_on=form.cleaned_data["fixed_on"],
                area=form.cleaned_data["area"],
                note=form.cleaned_data["note"],
                by=request.user,
            )
        except services.InsightsError as exc:
            form.add_error(exc.field or None, exc.message)
        else:
            messages.success(
                request,
                _("{product} marked fixed on {date}.").format(
                    product=product.name,
                    date=date_format(form.cleaned_data["fixed_on"]),
                ),
            )
            return redirect("insights_products:index")
    return render(
        request,
        "insights/admin/mark_fixed.html",
        {
            "header_title": _("Mark fixed"),
            "product": product,
            "form": form,
            "fixes": product.fixes.select_related("by")[:FIXES_SHOWN],
        },
        status=400 if request.method == "POST" else 200,
    )


# Centres -------------------------------------------------------------------------------


@insights_only
def centres_view(request):
    form, period = _period(request, with_category=False)
    rows = queries.centre_quality(**period)
    chart = charts.grouped_bar_chart(
        chart_id="insights-centres",
        title=_("Damage, wrong items and reason mismatches per centre"),
        description=_(
            "Share of received lines that arrived damaged or were the wrong item, "
            "and share of inspected lines whose confirmed reason differs from the "
            "customer's."
        ),
        labels=[row.name for row in rows],
        series=[
            charts.Series(_("Damaged"), [row.damaged_rate for row in rows]),
            charts.Series(_("Wrong item"), [row.wrong_item_rate for row in rows]),
            charts.Series(
                _("Reason differs"), [row.reason_mismatch_rate for row in rows]
            ),
        ],
        first_column=_("Centre"),
    )
    return render(
        request,
        "insights/admin/centres.html",
        {
            "header_title": _("Fulfilment centres"),
            "form": form,
            "period": period,
            "returns_filed": True,
            "rows": rows,
            "chart": chart,
        },
    )


# Serial returners ----------------------------------------------------------------------


@insights_only
def serial_returners_view(request):
    paginator = Paginator(queries.serial_returner_candidates(), SERIAL_PER_PAGE)
    page = paginator.get_page(request.GET.get("p"))
    return render(
        request,
        "insights/admin/serial_returners.html",
        {
            "header_title": _("Serial returners"),
            "page_obj": page,
            "paginator": paginator,
            "insights": page.object_list,
        },
    )


@insights_only
def override_view(request, customer_id: int):
    insight = get_object_or_404(
        CustomerInsight.objects.select_related("customer", "override_by"),
        customer_id=customer_id,
    )
    form = OverrideForm(
        request.POST if request.method == "POST" else None,
        initial={"override": insight.override},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.set_override(
                customer=insight.customer,
                override=form.cleaned_data["override"],
                reason=form.cleaned_data["reason"],
                by=request.user,
            )
        except services.InsightsError as exc:
            form.add_error(exc.field or None, exc.message)
        else:
            messages.success(
                request,
                _("Override for {customer} saved.").format(
                    customer=insight.customer.email
                ),
            )
            return redirect("insights_serial:index")
    return render(
        request,
        "insights/admin/override.html",
        {
            "header_title": _("Serial returner override"),
            "insight": insight,
            "form": form,
            "list_url": reverse("insights_serial:index"),
        },
        status=400 if request.method == "POST" else 200,
    )


# Personas ------------------------------------------------------------------------------


@insights_only
def personas_view(request):
    rows = queries.persona_distribution()
    total = sum(row.customers for row in rows)
    shares = [
        (Decimal(row.customers) / total).quantize(Decimal("0.0001"))
        if total
        else Decimal("0")
        for row in rows
    ]
    chart = charts.bar_chart(
        chart_id="insights-personas",
        title=_("Customers per persona"),
        description=_("Every customer falls in exactly one persona."),
        labels=[row.label for row in rows],
        values=[row.customers for row in rows],
        first_column=_("Persona"),
        value_label=_("Customers"),
        extra=[charts.Series(_("Share"), shares, fmt="percent")],
    )
    return render(
        request,
        "insights/admin/personas.html",
        {"header_title": _("Personas"), "chart": chart, "total": total},
    )
