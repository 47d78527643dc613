"""Campaigns in the Wagtail admin: a "Campaigns" menu listing every campaign with its
status and key figures (sent; for trigger campaigns the return-rate difference against
the holdout), the create/edit form (trigger and timing, sending window, holdout, audience
rules with a live count), the activate / pause / resume / finish buttons, the preview
with "send me a test" and the results page (campaigns/views.py). The campaign is a
modelcluster: its content per language and variant (a StreamField) and its variants are
inline panels of the same form, saved together with it.

The "Marketing" group holds the permissions (campaigns migrations): the listing and
results need `campaigns.view_campaign`, creating `add_campaign`, editing, the buttons,
preview and test `change_campaign`. Anyone else gets a plain 403 on
every view. Campaigns are never deleted here (they carry assignments and results):
finish one.
"""

from __future__ import annotations

import django_filters
from django.urls import path, reverse
from django.utils.translation import gettext_lazy
from wagtail.admin.filters import WagtailFilterSet
from wagtail.admin.panels import (
    FieldPanel,
    FieldRowPanel,
    InlinePanel,
    MultiFieldPanel,
    ObjectList,
    TabbedInterface,
)
from wagtail.admin.ui.menus import MenuItem
from wagtail.admin.ui.tables import Column, DateColumn
from wagtail.permissions import register_permission_policy
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import (
    CreateView,
    DeleteView,
    EditView,
    HistoryView,
    IndexView,
    SnippetViewSet,
    SnippetViewSetGroup,
    UsageView,
)

from campaigns import services, views
from campaigns.forms import CampaignContentFormSet, CampaignForm, CampaignVariantFormSet
from campaigns.models import Campaign, CampaignKind, CampaignStatus
from insights.charts import format_value
from shop.wagtail_hooks import RestrictedPermissionPolicy

register_permission_policy(
    Campaign, RestrictedPermissionPolicy(Campaign, actions={"view", "add", "change"})
)


class MarketingOnly:
    """A plain 403 for anyone without the permission (Wagtail would turn
    PermissionDenied into a redirect to the dashboard)."""

    required_permission = views.VIEW

    def dispatch(self, request, *args, **kwargs):
        if not request.user.has_perm(self.required_permission):
            return views.forbidden(request)
        return super().dispatch(request, *args, **kwargs)


# The listing ---------------------------------------------------------------------------


class CampaignFilterSet(WagtailFilterSet):
    kind = django_filters.ChoiceFilter(
        label=gettext_lazy("kind"), choices=CampaignKind.choices
    )
    status = django_filters.ChoiceFilter(
        label=gettext_lazy("status"), choices=CampaignStatus.choices
    )

    class Meta:
        model = Campaign
        fields = ["kind", "status"]


class SentColumn(Column):
    def get_value(self, instance):
        return format_value(instance.list_figures.sent)


class DifferenceColumn(Column):
    """Treated minus holdout return rate, in percentage points (– for promotions and
    while there is nothing to compare)."""

    def get_value(self, instance):
        difference = instance.list_figures.return_rate_difference
        if difference is None:
            return "–"
        sign = "+" if difference > 0 else ""
        return sign + format_value(difference, "percent")


class CampaignIndexView(MarketingOnly, IndexView):
    def paginate_queryset(self, queryset, page_size):
        paginator, page, object_list, is_paginated = super().paginate_queryset(
            queryset, page_size
        )
        object_list = list(object_list)
        figures = views.list_figures(object_list)
        for campaign in object_list:
            campaign.list_figures = figures[campaign.pk]
        return paginator, page, object_list, is_paginated

    def get_list_more_buttons(self, instance):
        return [
            *super().get_list_more_buttons(instance),
            MenuItem(
                gettext_lazy("Results"),
                url=reverse("campaigns:results", args=[instance.pk]),
                icon_name="view",
                priority=15,
            ),
        ]


# Create and edit ------------------------------------------------------------------------


class CampaignCreateView(MarketingOnly, CreateView):
    required_permission = views.ADD

    def save_instance(self):
        self.form.instance.created_by = self.request.user
        return super().save_instance()

    def get_success_url(self):
        # Straight to the edit page: its audience count, preview and buttons.
        return reverse("campaigns:edit", args=[self.object.pk])

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["count_url"] = reverse("campaigns:audience_count_new")
        return context


class CampaignEditView(MarketingOnly, EditView):
    required_permission = views.CHANGE

    def get_success_url(self):
        # Back to the campaign's page: its buttons, preview and results.
        return reverse("campaigns:edit", args=[self.object.pk])

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        campaign = self.object
        count = services.audience_count(campaign)
        context |= {
            "campaign": campaign,
            "audience_count": count,
            "audience_label": views.count_label(count),
            "count_url": reverse("campaigns:audience_count", args=[campaign.pk]),
            "actions": views.available_actions(campaign),
            "events": campaign.events.select_related("by"),
            "preview_url": reverse("campaigns:preview", args=[campaign.pk]),
            "results_url": reverse("campaigns:results", args=[campaign.pk]),
        }
        return context


class CampaignHistoryView(MarketingOnly, HistoryView):
    pass


class CampaignDeleteView(MarketingOnly, DeleteView):
    """Never offered (the permission policy has no "delete"): a 403 for outsiders,
    Wagtail's own refusal for marketing."""


class CampaignUsageView(MarketingOnly, UsageView):
    pass


class CheckedInlinePanel(InlinePanel):
    """An InlinePanel whose formset is our own class (it names the field of a
    duplicate instead of Django's generic "Please correct the duplicate data")."""

    def __init__(self, *args, formset_class=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.formset_class = formset_class

    def clone_kwargs(self):
        return super().clone_kwargs() | {"formset_class": self.formset_class}

    def get_form_options(self):
        options = super().get_form_options()
        if self.formset_class is not None:
            options["formsets"][self.relation_name]["formset"] = self.formset_class
        return options


def _panels():
    timing = MultiFieldPanel(
        [
            FieldPanel("trigger"),
            FieldPanel("delay_days"),
            FieldPanel("reminder_after_days"),
            FieldPanel("scheduled_at"),
        ],
        heading=gettext_lazy("Trigger and timing"),
        help_text=gettext_lazy(
            "Post-purchase and review requests follow the trigger; a promotion is "
            "sent once, at its time."
        ),
    )
    window = MultiFieldPanel(
        [FieldRowPanel([FieldPanel("window_start"), FieldPanel("window_end")])],
        heading=gettext_lazy("Sending window"),
    )
    measurement = MultiFieldPanel(
        [
            FieldPanel("holdout_percent"),
            FieldPanel("reviews_per_product"),
            FieldPanel("frequency_cap_exempt"),
        ],
        heading=gettext_lazy("Holdout and limits"),
    )
    audience = MultiFieldPanel(
        [
            FieldPanel("languages"),
            FieldPanel("category"),
            FieldPanel("ordered_within_days"),
            FieldPanel("persona"),
            FieldPanel("include_serial_returners"),
        ],
        heading=gettext_lazy("Audience rules"),
        help_text=gettext_lazy(
            "Customers without marketing consent, suppressed or unsubscribed "
            "addresses are always left out."
        ),
    )
    contents = CheckedInlinePanel(
        "contents",
        panels=[
            FieldRowPanel([FieldPanel("language"), FieldPanel("variant_code")]),
            FieldPanel("subject"),
            FieldPanel("preheader"),
            FieldPanel("body"),
        ],
        heading=gettext_lazy("Content per language and variant"),
        label=gettext_lazy("content"),
        formset_class=CampaignContentFormSet,
        help_text=gettext_lazy(
            "One e-mail per language; a variant may have its own. Customers whose "
            "language has none get the English one."
        ),
    )
    variants = CheckedInlinePanel(
        "variants",
        panels=[
            FieldRowPanel([FieldPanel("code"), FieldPanel("name")]),
            FieldRowPanel([FieldPanel("weight"), FieldPanel("review_selection")]),
        ],
        heading=gettext_lazy("Variants"),
        label=gettext_lazy("variant"),
        formset_class=CampaignVariantFormSet,
        help_text=gettext_lazy(
            "None: one variant A with the top-rated reviews. Add two or more for an "
            "A/B test; each gets a share of the e-mail group by its weight."
        ),
    )
    return TabbedInterface(
        [
            ObjectList(
                [FieldPanel("name"), FieldPanel("kind"), timing, window, measurement],
                heading=gettext_lazy("Campaign"),
            ),
            ObjectList([contents], heading=gettext_lazy("Content")),
            ObjectList([variants], heading=gettext_lazy("Variants")),
            ObjectList([audience], heading=gettext_lazy("Audience")),
        ],
        base_form_class=CampaignForm,
    )


class CampaignViewSet(SnippetViewSet):
    model = Campaign
    icon = "mail"
    menu_label = gettext_lazy("Campaigns")
    url_prefix = "campaigns"
    url_namespace = "campaigns"
    add_to_reference_index = False
    copy_view_enabled = False
    inspect_view_enabled = False
    list_per_page = 50
    search_fields = ["name"]
    filterset_class = CampaignFilterSet
    list_display = [
        "name",
        Column("kind", label=gettext_lazy("kind"), accessor="get_kind_display"),
        Column("status", label=gettext_lazy("status"), accessor="get_status_display"),
        SentColumn("sent", label=gettext_lazy("sent")),
        DifferenceColumn(
            "return_rate_difference",
            label=gettext_lazy("return rate vs holdout"),
        ),
        DateColumn("activated_at", label=gettext_lazy("activated")),
    ]
    ordering = ["-created_at"]
    index_view_class = CampaignIndexView
    add_view_class = CampaignCreateView
    edit_view_class = CampaignEditView
    history_view_class = CampaignHistoryView
    delete_view_class = CampaignDeleteView
    usage_view_class = CampaignUsageView
    create_template_name = "campaigns/admin/create.html"
    edit_template_name = "campaigns/admin/edit.html"
    edit_handler = _panels()

    def get_queryset(self, request):
        return Campaign.objects.all()

    def get_urlpatterns(self):
        return super().get_urlpatterns() + [
            path(
                "audience-count/",
                views.audience_count_view,
                name="audience_count_new",
            ),
            path(
                "<int:pk>/audience-count/",
                views.audience_count_view,
                name="audience_count",
            ),
            path(
                "<int:pk>/actions/<slug:action>/",
                views.transition_view,
                name="transition",
            ),
            path("<int:pk>/preview/", views.preview_view, name="preview"),
            path("<int:pk>/results/", views.results_view, name="results"),
        ]


class CampaignsViewSetGroup(SnippetViewSetGroup):
    menu_label = gettext_lazy("Campaigns")
    menu_icon = "mail"
    menu_order = 340
    items = (CampaignViewSet,)


register_snippet(CampaignsViewSetGroup)
