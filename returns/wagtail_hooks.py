"""Returns in the Wagtail admin: a "Returns" menu with the queue (filters, a detail
page with lines, feedback, photos, costs, the policy applied and the event log, and the
returns team's actions), the reasons and the fulfilment centres.

Returns are read-only here except through the action views, each of which calls one
service in returns/services.py. The "Returns team" group holds the permissions
(returns/migrations); anyone else gets a 403 on the queue and on every action.
"""

from __future__ import annotations

import django_filters
from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet
from wagtail.admin.ui.tables import BooleanColumn, Column, DateColumn
from wagtail.permissions import register_permission_policy
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import (
    IndexView,
    InspectView,
    SnippetViewSet,
    SnippetViewSetGroup,
)

from returns import services
from returns.forms import InspectForm, NoteForm, ReceiveForm, RejectForm
from returns.models import (
    FulfilmentCentre,
    ReturnReason,
    ReturnRequest,
    ReturnStatus,
)
from shop.wagtail_hooks import ReadOnlyViewSet, RestrictedPermissionPolicy

PROCESS_PERMISSION = "returns.process_returnrequest"
VIEW_PERMISSION = "returns.view_returnrequest"

register_permission_policy(
    ReturnRequest, RestrictedPermissionPolicy(ReturnRequest, actions={"view"})
)


# The returns team's actions ------------------------------------------------------------


def _approve(found, form, user):
    return services.approve(request=found, by=user, note=form.cleaned_data["note"])


def _reject(found, form, user):
    return services.reject(request=found, by=user, reason=form.cleaned_data["reason"])


def _receive(found, form, user):
    return services.receive(request=found, by=user, conditions=form.conditions())


def _inspect(found, form, user):
    return services.inspect(request=found, by=user, findings=form.findings())


def _resolve(found, form, user):
    return services.resolve(request=found, by=user, note=form.cleaned_data["note"])


def _close(found, form, user):
    return services.close(request=found, by=user, note=form.cleaned_data["note"])


# slug: (button label, status it moves to, form class, service call, done message)
ACTIONS = {
    "approve": (
        gettext_lazy("Approve"),
        ReturnStatus.APPROVED,
        NoteForm,
        _approve,
        gettext_lazy("Return {rma} approved."),
    ),
    "reject": (
        gettext_lazy("Reject"),
        ReturnStatus.REJECTED,
        RejectForm,
        _reject,
        gettext_lazy("Return {rma} rejected."),
    ),
    "receive": (
        gettext_lazy("Mark received"),
        ReturnStatus.RECEIVED,
        ReceiveForm,
        _receive,
        gettext_lazy("Return {rma} marked received."),
    ),
    "inspect-items": (
        gettext_lazy("Record inspection"),
        ReturnStatus.INSPECTED,
        InspectForm,
        _inspect,
        gettext_lazy("Inspection of return {rma} recorded."),
    ),
    "resolve": (
        gettext_lazy("Resolve"),
        ReturnStatus.RESOLVED,
        NoteForm,
        _resolve,
        gettext_lazy("Return {rma} resolved."),
    ),
    "close": (
        gettext_lazy("Close"),
        ReturnStatus.CLOSED,
        NoteForm,
        _close,
        gettext_lazy("Return {rma} closed."),
    ),
}


def available_actions(found: ReturnRequest, lines) -> list[tuple[str, str]]:
    """(slug, label) of the moves the return can make now."""
    all_returnless = bool(lines) and all(line.returnless for line in lines)
    shown = []
    for slug, (label, target, *_rest) in ACTIONS.items():
        if not found.can_move_to(target):
            continue
        if (
            slug == "resolve"
            and found.status == ReturnStatus.APPROVED
            and not all_returnless
        ):
            continue
        shown.append((slug, label))
    return shown


def _lines(found: ReturnRequest):
    return list(
        found.lines.select_related(
            "order_line__product", "reason", "confirmed_reason"
        ).prefetch_related("photos")
    )


def _form_for(slug, form_class, found, lines, data=None):
    if form_class in (ReceiveForm, InspectForm):
        kwargs = {"lines": lines}
        if form_class is InspectForm:
            kwargs["reasons"] = list(ReturnReason.objects.all())
        return form_class(data, **kwargs)
    return form_class(data)


def forbidden(request):
    return render(
        request,
        "returns/admin/forbidden.html",
        {"header_title": _("No access")},
        status=403,
    )


def action_view(request, pk: int, action: str):
    """One move of the state machine: a form (GET), then the service (POST)."""
    if not request.user.has_perm(PROCESS_PERMISSION):
        return forbidden(request)
    if action not in ACTIONS:
        raise Http404
    label, target, form_class, call, done_message = ACTIONS[action]
    found = get_object_or_404(
        ReturnRequest.objects.select_related("customer", "order", "centre"), pk=pk
    )
    lines = _lines(found)
    form = _form_for(
        action,
        form_class,
        found,
        lines,
        request.POST if request.method == "POST" else None,
    )
    if request.method == "POST" and form.is_valid():
        try:
            call(found, form, request.user)
        except services.ReturnsError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, str(done_message).format(rma=found.rma))
            return redirect("returns_queue:inspect", found.pk)
    return render(
        request,
        "returns/admin/action.html",
        {
            "found": found,
            "lines": lines,
            "form": form,
            "action_label": label,
            "header_title": f"{label}: {found.rma}",
            "per_line": hasattr(form, "rows"),
        },
        status=400 if request.method == "POST" else 200,
    )


# The queue -----------------------------------------------------------------------------


class ReturnRequestFilterSet(WagtailFilterSet):
    created_at = django_filters.DateFromToRangeFilter(
        label=gettext_lazy("Filed"), widget=DateRangePickerWidget
    )

    class Meta:
        model = ReturnRequest
        fields = ["status", "centre", "needs_approval"]


class TeamOnly:
    """Returns hold customers' addresses and money: a plain 403 for anyone outside
    the returns team (Wagtail would turn PermissionDenied into a redirect to the
    dashboard, which hides the refusal from scripts and tests)."""

    def dispatch(self, request, *args, **kwargs):
        if not request.user.has_perm(VIEW_PERMISSION):
            return forbidden(request)
        return super().dispatch(request, *args, **kwargs)


class ReturnIndexView(TeamOnly, IndexView):
    pass


class ReturnInspectView(TeamOnly, InspectView):
    """The return with its lines, feedback, photos, costs, policy and event log, and
    the actions the returns team can take from here."""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        found = self.object
        lines = _lines(found)
        context["lines"] = lines
        context["events"] = list(found.events.select_related("by", "centre"))
        context["actions"] = (
            [
                (label, reverse("returns_queue:action", args=[found.pk, slug]))
                for slug, label in available_actions(found, lines)
            ]
            if self.request.user.has_perm(PROCESS_PERMISSION)
            else []
        )
        return context


class ReturnRequestViewSet(ReadOnlyViewSet):
    model = ReturnRequest
    icon = "redirect"
    url_prefix = "returns/queue"
    url_namespace = "returns_queue"
    menu_label = gettext_lazy("Queue")
    search_fields = ["rma", "customer__email", "order__number"]
    filterset_class = ReturnRequestFilterSet
    list_display = [
        "rma",
        Column("status", label=gettext_lazy("status"), accessor="get_status_display"),
        "customer",
        Column("order", label=gettext_lazy("order"), accessor="order.number"),
        "centre",
        BooleanColumn("needs_approval", label=gettext_lazy("needs approval")),
        DateColumn("created_at", label=gettext_lazy("filed")),
    ]
    ordering = ["-created_at"]
    index_view_class = ReturnIndexView
    inspect_view_class = ReturnInspectView
    inspect_template_name = "returns/admin/return_inspect.html"
    inspect_view_fields = [
        "rma",
        "status",
        "channel",
        "customer",
        "order",
        "centre",
        "needs_approval",
        "approval_reasons",
        "rejection_reason",
        "created_at",
        "resolved_at",
        "satisfaction_score",
    ]

    def get_queryset(self, request):
        return ReturnRequest.objects.select_related("customer", "order", "centre")

    def get_urlpatterns(self):
        return super().get_urlpatterns() + [
            path("<int:pk>/actions/<slug:action>/", action_view, name="action"),
        ]


# Reasons and centres -------------------------------------------------------------------


class ReturnReasonFilterSet(WagtailFilterSet):
    class Meta:
        model = ReturnReason
        fields = ["fix_area", "controllable", "active"]


class ReturnReasonViewSet(SnippetViewSet):
    model = ReturnReason
    icon = "help"
    url_prefix = "returns/reasons"
    url_namespace = "returns_reasons"
    add_to_reference_index = False
    copy_view_enabled = False
    search_fields = ["code", "label_en", "label_nl"]
    filterset_class = ReturnReasonFilterSet
    list_display = [
        "label_en",
        "label_nl",
        "code",
        BooleanColumn("controllable", label=gettext_lazy("shop caused it")),
        "fix_area",
        BooleanColumn("needs_photo", label=gettext_lazy("photo")),
        BooleanColumn("active", label=gettext_lazy("offered")),
    ]


CENTRE_PERMISSION = "returns.change_fulfilmentcentre"


def _centre_token_view(request, pk: int, *, revoke: bool):
    """Issue a new API key (shown once, on this response only) or revoke the key."""
    if not request.user.has_perm(CENTRE_PERMISSION):
        return forbidden(request)
    centre = get_object_or_404(FulfilmentCentre, pk=pk)
    key = ""
    if request.method == "POST":
        if revoke:
            services.revoke_centre_token(centre=centre)
            messages.success(request, _("The token is revoked."))
            return redirect("returns_centres:inspect", centre.pk)
        centre, key = services.create_centre_token(centre=centre)
    response = render(
        request,
        "returns/admin/centre_token.html",
        {
            "centre": centre,
            "revoke": revoke,
            "key": key,
            "header_title": _("Revoke token") if revoke else _("New API token"),
        },
    )
    return response


def new_centre_token_view(request, pk: int):
    return _centre_token_view(request, pk, revoke=False)


def revoke_centre_token_view(request, pk: int):
    return _centre_token_view(request, pk, revoke=True)


class CentreInspectView(InspectView):
    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        if self.request.user.has_perm(CENTRE_PERMISSION):
            context["new_token_url"] = reverse(
                "returns_centres:new_token", args=[self.object.pk]
            )
            if self.object.has_active_token:
                context["revoke_token_url"] = reverse(
                    "returns_centres:revoke_token", args=[self.object.pk]
                )
        return context


class FulfilmentCentreViewSet(SnippetViewSet):
    model = FulfilmentCentre
    icon = "home"
    url_prefix = "returns/centres"
    url_namespace = "returns_centres"
    add_to_reference_index = False
    copy_view_enabled = False
    inspect_view_enabled = True
    search_fields = ["name", "code"]
    list_display = [
        "name",
        "code",
        "kind",
        BooleanColumn("is_default", label=gettext_lazy("default")),
        Column("key_prefix", label=gettext_lazy("token starts with")),
        BooleanColumn("has_active_token", label=gettext_lazy("token active")),
    ]
    inspect_view_fields = [
        "name",
        "code",
        "kind",
        "address",
        "country",
        "email",
        "return_shipping_cost",
        "currency",
        "categories",
        "is_default",
        "key_prefix",
        "token_created_at",
        "revoked_at",
    ]
    inspect_view_class = CentreInspectView
    inspect_template_name = "returns/admin/centre_inspect.html"

    def get_urlpatterns(self):
        return super().get_urlpatterns() + [
            path("<int:pk>/token/new/", new_centre_token_view, name="new_token"),
            path(
                "<int:pk>/token/revoke/", revoke_centre_token_view, name="revoke_token"
            ),
        ]


class ReturnsViewSetGroup(SnippetViewSetGroup):
    menu_label = gettext_lazy("Returns")
    menu_icon = "redirect"
    menu_order = 320
    items = (ReturnRequestViewSet, ReturnReasonViewSet, FulfilmentCentreViewSet)


register_snippet(ReturnsViewSetGroup)
