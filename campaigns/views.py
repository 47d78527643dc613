"""The campaigns admin's own views (the listing and the edit form are Wagtail's, see
wagtail_hooks.py): the live audience count, activate / pause / resume / finish, the
preview with "send me a test", and the results page.

Each view checks its permission (a plain 403 page, not Wagtail's redirect to the
dashboard), parses its form and calls one service or query in campaigns/."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from urllib.parse import urlencode

from django.contrib import messages
from django.db.models import Count, Exists, OuterRef, Q
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from campaigns import analysis, services
from campaigns.forms import AudienceForm, PreviewForm
from campaigns.models import (
    ALLOWED_TRANSITIONS,
    Assignment,
    Campaign,
    CampaignStatus,
    Group,
)
from emails.models import Message
from insights import charts
from returns.models import ReturnRequest, ReturnStatus

VIEW = "campaigns.view_campaign"
ADD = "campaigns.add_campaign"
CHANGE = "campaigns.change_campaign"


def forbidden(request):
    return render(
        request,
        "campaigns/admin/forbidden.html",
        {"header_title": _("No access")},
        status=403,
    )


def permission_required(permission: str) -> Callable:
    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def checked(request, *args, **kwargs):
            if not request.user.has_perm(permission):
                return forbidden(request)
            return view(request, *args, **kwargs)

        return checked

    return decorator


def edit_url(campaign: Campaign) -> str:
    return reverse("campaigns:edit", args=[campaign.pk])


# The state machine's buttons --------------------------------------------------------

# slug: (service, the status it moves from, the status it moves to, label, message)
TRANSITIONS = {
    "activate": (
        services.activate,
        CampaignStatus.DRAFT,
        CampaignStatus.ACTIVE,
        gettext_lazy("Activate"),
        gettext_lazy("The campaign is active."),
    ),
    "pause": (
        services.pause,
        CampaignStatus.ACTIVE,
        CampaignStatus.PAUSED,
        gettext_lazy("Pause"),
        gettext_lazy("The campaign is paused: nothing more is sent until you resume."),
    ),
    "resume": (
        services.resume,
        CampaignStatus.PAUSED,
        CampaignStatus.ACTIVE,
        gettext_lazy("Resume"),
        gettext_lazy("The campaign is active again."),
    ),
    "finish": (
        services.finish,
        None,
        CampaignStatus.FINISHED,
        gettext_lazy("Finish"),
        gettext_lazy("The campaign is finished."),
    ),
}


def available_actions(campaign: Campaign) -> list[tuple[str, str, str]]:
    """(slug, label, url) of the moves the campaign can make now."""
    allowed = ALLOWED_TRANSITIONS.get(campaign.status, frozenset())
    return [
        (slug, label, reverse("campaigns:transition", args=[campaign.pk, slug]))
        for slug, (_service, source, target, label, _done) in TRANSITIONS.items()
        if target in allowed and source in (None, campaign.status)
    ]


@permission_required(CHANGE)
@require_POST
def transition_view(request, pk: int, action: str):
    """Activate, pause, resume or finish; an illegal move is refused with a message
    and changes nothing."""
    if action not in TRANSITIONS:
        raise Http404
    campaign = get_object_or_404(Campaign, pk=pk)
    service, _source, _target, _label, done = TRANSITIONS[action]
    try:
        service(campaign=campaign, by=request.user)
    except services.IllegalTransition:
        messages.error(
            request,
            _("A campaign that is {status} cannot do this: nothing changed.").format(
                status=campaign.get_status_display().lower()
            ),
        )
    except services.CampaignError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, str(done))
    return redirect(edit_url(campaign))


# Live audience count -----------------------------------------------------------------


def count_label(count: int) -> str:
    return ngettext(
        "{count} customer in the audience",
        "{count} customers in the audience",
        count,
    ).format(count=count)


@permission_required(VIEW)
def audience_count_view(request, pk: int | None = None):
    """The audience size as JSON: of the saved campaign (GET), or of the rules the
    edit form holds right now (POST, nothing is saved)."""
    campaign = get_object_or_404(Campaign, pk=pk) if pk else Campaign()
    if request.method == "POST":
        form = AudienceForm(request.POST, instance=campaign)
        if not form.is_valid():
            return JsonResponse(
                {
                    "errors": [
                        {"path": field, "message": str(message)}
                        for field, errors in form.errors.items()
                        for message in errors
                    ]
                },
                status=400,
            )
        campaign = form.instance
    count = services.audience_count(campaign)
    return JsonResponse({"count": count, "label": count_label(count)})


# Preview and test -------------------------------------------------------------------


@permission_required(CHANGE)
def preview_view(request, pk: int):
    """The e-mail rendered for a real customer and order the editor picks (GET), and
    "send me a test" to the editor's own address (POST)."""
    campaign = get_object_or_404(Campaign, pk=pk)
    if request.method == "POST":
        data = request.POST
    else:
        data = request.GET if "customer" in request.GET else None
    form = PreviewForm(data, campaign=campaign)
    rendered = None
    if form.is_bound and form.is_valid():
        if request.method == "POST":
            sent = _send_test(request, form)
            if sent:
                query = urlencode(
                    {
                        key: request.POST.get(key, "")
                        for key in ("customer", "order", "language", "variant")
                    }
                )
                return redirect(
                    f"{reverse('campaigns:preview', args=[campaign.pk])}?{query}"
                )
        if not form.errors:
            try:
                rendered = services.preview(**form.service_kwargs())
            except services.CampaignError as exc:
                form.add_error(None, str(exc))
    return render(
        request,
        "campaigns/admin/preview.html",
        {
            "campaign": campaign,
            "form": form,
            "rendered": rendered,
            "to_email": request.user.email,
            "header_title": _("Preview: {name}").format(name=campaign.name),
            "edit_url": edit_url(campaign),
        },
        status=400 if form.is_bound and form.errors else 200,
    )


def _send_test(request, form: PreviewForm) -> bool:
    if not request.user.email:
        form.add_error(None, _("Your account has no e-mail address to send a test to."))
        return False
    try:
        message = services.send_test(
            **form.service_kwargs(), to_email=request.user.email, by=request.user
        )
    except services.CampaignError as exc:
        form.add_error(None, str(exc))
        return False
    messages.success(
        request,
        _("A test e-mail to {email} is queued.").format(email=message.to_email),
    )
    return True


# Key figures of the listing -------------------------------------------------------


@dataclass(frozen=True)
class ListFigures:
    sent: int
    return_rate_difference: float | None


def list_figures(campaigns: list[Campaign]) -> dict[int, ListFigures]:
    """Sent e-mails of each campaign and, for trigger campaigns, the return rate of
    the e-mail group minus the holdout's (all variants together; as analysis.py
    counts a return), in two queries for the whole page."""
    labels = {campaign.sender_label: campaign.pk for campaign in campaigns}
    sent = {
        labels[row["sender_label"]]: row["n"]
        for row in Message.objects.filter(
            sender_label__in=labels, sent_at__isnull=False
        )
        .values("sender_label")
        .annotate(n=Count("pk"))
    }
    returned = ReturnRequest.objects.filter(order=OuterRef("order_id")).exclude(
        status__in=[ReturnStatus.REJECTED, ReturnStatus.CANCELLED]
    )
    counts: dict[tuple[int, str], tuple[int, int]] = {
        (row["campaign_id"], row["group"]): (row["n"], row["returns"])
        for row in Assignment.objects.filter(
            campaign__in=[c.pk for c in campaigns if c.is_trigger],
            order__isnull=False,
        )
        .annotate(returned=Exists(returned))
        .values("campaign_id", "group")
        .annotate(n=Count("pk"), returns=Count("pk", filter=Q(returned=True)))
    }

    def difference(pk: int) -> float | None:
        treated_n, treated_returns = counts.get((pk, Group.TREATMENT), (0, 0))
        holdout_n, holdout_returns = counts.get((pk, Group.HOLDOUT), (0, 0))
        if not treated_n or not holdout_n:
            return None
        return treated_returns / treated_n - holdout_returns / holdout_n

    return {
        campaign.pk: ListFigures(
            sent=sent.get(campaign.pk, 0),
            return_rate_difference=difference(campaign.pk),
        )
        for campaign in campaigns
    }


# Results -----------------------------------------------------------------------------


def _variant_label(result) -> str:
    if result.name and result.name != result.variant:
        return _("Variant {code}: {name}").format(code=result.variant, name=result.name)
    return _("Variant {code}").format(code=result.variant)


def results_charts(days, comparison) -> dict[str, charts.Chart]:
    labels = [date_format(row["day"], "SHORT_DATE_FORMAT") for row in days]
    result = {
        "daily": charts.line_chart(
            chart_id="campaign-daily",
            title=_("E-mails per day"),
            description=_(
                "E-mails sent each day, and how many were first opened and first "
                "clicked that day."
            ),
            labels=labels,
            series=[
                charts.Series(_("Sent"), [row["sent"] for row in days]),
                charts.Series(_("Opened"), [row["opened"] for row in days]),
                charts.Series(_("Clicked"), [row["clicked"] for row in days]),
            ],
            first_column=_("Day"),
            fmt="number",
        ),
        "assigned": charts.stacked_bar_chart(
            chart_id="campaign-assigned",
            title=_("Assigned per day"),
            description=_(
                "Customers or orders the campaign reached each day: the e-mail group "
                "and the holdout."
            ),
            labels=labels,
            series=[
                charts.Series(_("E-mail group"), [row["treatment"] for row in days]),
                charts.Series(_("Holdout"), [row["holdout"] for row in days]),
            ],
            first_column=_("Day"),
            total_label=_("Total"),
        ),
    }
    if comparison:
        variants = [_variant_label(row) for row in comparison]
        result["returns"] = charts.grouped_bar_chart(
            chart_id="campaign-returns",
            title=_("Return rate: e-mail against holdout"),
            description=_(
                "Share of orders with a return, in the e-mail group and in the "
                "holdout, per variant."
            ),
            labels=variants,
            series=[
                charts.Series(
                    _("E-mail group"), [row.treated_return_rate for row in comparison]
                ),
                charts.Series(
                    _("Holdout"), [row.holdout_return_rate for row in comparison]
                ),
            ],
            first_column=_("Variant"),
        )
        result["reviews"] = charts.grouped_bar_chart(
            chart_id="campaign-reviews",
            title=_("Review rate: e-mail against holdout"),
            description=_(
                "Share of orders with a review, in the e-mail group and in the "
                "holdout, per variant."
            ),
            labels=variants,
            series=[
                charts.Series(
                    _("E-mail group"), [row.treated_review_rate for row in comparison]
                ),
                charts.Series(
                    _("Holdout"), [row.holdout_review_rate for row in comparison]
                ),
            ],
            first_column=_("Variant"),
        )
    return result


@permission_required(VIEW)
def results_view(request, pk: int):
    campaign = get_object_or_404(Campaign, pk=pk)
    figures = analysis.delivery_figures(campaign)
    comparison = analysis.holdout_comparison(campaign) if campaign.is_trigger else []
    days = analysis.daily_series(campaign)
    return render(
        request,
        "campaigns/admin/results.html",
        {
            "campaign": campaign,
            "figures": figures,
            "comparison": [(_variant_label(row), row) for row in comparison],
            "charts": results_charts(days, comparison),
            "header_title": _("Results: {name}").format(name=campaign.name),
            "edit_url": edit_url(campaign),
        },
    )
