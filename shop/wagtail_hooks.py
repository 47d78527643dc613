"""The shop's data in the Wagtail admin: a "Shop" menu of read-mostly listings.

Customers, products, orders and categories come from the shop (API, webhooks, CSV),
so staff look but do not edit: a change here would be overwritten by the next push.
API tokens are issued by `manage.py create_api_token` (the key is shown once); the
admin lists them and can only revoke one.
"""

import django_filters
from django import forms
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.panels import FieldPanel, ObjectList
from wagtail.admin.ui.tables import BooleanColumn, Column, DateColumn
from wagtail.permission_policies import ModelPermissionPolicy
from wagtail.permissions import register_permission_policy
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet, SnippetViewSetGroup

from shop.models import ApiToken, Category, Customer, Order, Product


class RestrictedPermissionPolicy(ModelPermissionPolicy):
    """Django's model permissions, but only for the actions the admin may offer."""

    def __init__(self, model, *, actions):
        super().__init__(model)
        self.actions = frozenset(actions)

    def user_has_permission(self, user, action):
        return action in self.actions and super().user_has_permission(user, action)

    def user_has_any_permission(self, user, actions):
        return any(self.user_has_permission(user, action) for action in actions)

    def users_with_any_permission(self, actions):
        return super().users_with_any_permission(
            [action for action in actions if action in self.actions]
        )


# Registered before the viewsets below, so Wagtail never builds its default policy.
for model in (Customer, Product, Order, Category):
    register_permission_policy(
        model, RestrictedPermissionPolicy(model, actions={"view"})
    )
register_permission_policy(
    ApiToken, RestrictedPermissionPolicy(ApiToken, actions={"view", "change"})
)


class ReadOnlyViewSet(SnippetViewSet):
    inspect_view_enabled = True
    # Wagtail's reference index ("usage") would cost queries on every order the API
    # saves, and nothing in the admin links to shop data.
    add_to_reference_index = False
    copy_view_enabled = False
    list_per_page = 50


# Customers -------------------------------------------------------------------------


class CustomerFilterSet(WagtailFilterSet):
    class Meta:
        model = Customer
        fields = ["language", "marketing_consent"]


class CustomerViewSet(ReadOnlyViewSet):
    model = Customer
    icon = "user"
    search_fields = ["email", "first_name", "last_name"]
    filterset_class = CustomerFilterSet
    list_display = [
        "email",
        Column("full_name", label=_("name")),
        "language",
        BooleanColumn("marketing_consent", label=_("marketing consent")),
        DateColumn("created_at", label=_("first seen")),
    ]
    inspect_view_fields = [
        "email",
        "first_name",
        "last_name",
        "language",
        "marketing_consent",
        "marketing_consent_at",
        "marketing_consent_source",
        "user",
        "created_at",
        "updated_at",
    ]


# Products and categories -----------------------------------------------------------


class ProductFilterSet(WagtailFilterSet):
    class Meta:
        model = Product
        fields = ["category", "currency"]


class ProductViewSet(ReadOnlyViewSet):
    model = Product
    icon = "tag"
    search_fields = ["sku", "name"]
    filterset_class = ProductFilterSet
    list_display = ["name", "sku", "category", "price", "currency"]
    inspect_view_fields = [
        "sku",
        "name",
        "category",
        "price",
        "currency",
        "product_url",
        "image_url",
        "created_at",
        "updated_at",
    ]

    def get_queryset(self, request):
        return Product.objects.select_related("category")


class CategoryViewSet(ReadOnlyViewSet):
    model = Category
    icon = "folder-open-inverse"
    search_fields = ["name"]
    list_display = ["name", Column("product_count", label=_("products"))]
    inspect_view_fields = ["name"]

    def get_queryset(self, request):
        return Category.objects.annotate(product_count=Count("products"))


# Orders ----------------------------------------------------------------------------


class OrderFilterSet(WagtailFilterSet):
    placed_at = django_filters.DateFromToRangeFilter(
        label=_("placed"), widget=DateRangePickerWidget
    )
    delivered = django_filters.BooleanFilter(
        field_name="delivered_at",
        lookup_expr="isnull",
        exclude=True,
        label=_("delivered"),
    )

    class Meta:
        model = Order
        fields = ["source", "placed_at", "delivered"]


class OrderViewSet(ReadOnlyViewSet):
    model = Order
    icon = "clipboard-list"
    search_fields = ["number", "external_id", "customer__email"]
    filterset_class = OrderFilterSet
    list_display = [
        "number",
        "external_id",
        "customer",
        "source",
        DateColumn("placed_at", label=_("placed")),
        DateColumn("delivered_at", label=_("delivered")),
        "total",
        "currency",
    ]
    inspect_view_fields = [
        "number",
        "external_id",
        "source",
        "customer",
        "placed_at",
        "shipped_at",
        "delivered_at",
        "currency",
        "total",
        "created_at",
        "updated_at",
    ]

    def get_queryset(self, request):
        return Order.objects.select_related("customer")


# API tokens ------------------------------------------------------------------------


class ApiTokenForm(WagtailAdminModelForm):
    """Revoking is the only edit: one way, since a revoked key may have leaked."""

    revoke = forms.BooleanField(
        label=_("Revoke this token"),
        required=False,
        help_text=_(
            "The API refuses the token from now on. This cannot be undone; issue "
            "a new token with `manage.py create_api_token NAME`."
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.revoked_at is not None:
            self.fields["revoke"].initial = True
            self.fields["revoke"].disabled = True

    def save(self, commit=True):
        if self.cleaned_data.get("revoke") and self.instance.revoked_at is None:
            self.instance.revoked_at = timezone.now()
        return super().save(commit=commit)


class ApiTokenFilterSet(WagtailFilterSet):
    revoked = django_filters.BooleanFilter(
        field_name="revoked_at",
        lookup_expr="isnull",
        exclude=True,
        label=_("revoked"),
    )

    class Meta:
        model = ApiToken
        fields = ["revoked"]


class ApiTokenViewSet(ReadOnlyViewSet):
    model = ApiToken
    icon = "key"
    search_fields = ["name", "prefix"]
    filterset_class = ApiTokenFilterSet
    list_display = [
        "name",
        "prefix",
        Column("scope_codes", label=_("scopes")),
        DateColumn("created_at", label=_("created")),
        DateColumn("last_used_at", label=_("last used")),
        DateColumn("revoked_at", label=_("revoked")),
    ]
    inspect_view_fields = [
        "name",
        "prefix",
        "scope_labels",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    edit_handler = ObjectList(
        [
            FieldPanel("name", read_only=True),
            FieldPanel("prefix", read_only=True),
            FieldPanel("scopes", read_only=True),
            FieldPanel("last_used_at", read_only=True),
            FieldPanel("revoked_at", read_only=True),
            FieldPanel("revoke"),
        ],
        base_form_class=ApiTokenForm,
    )


class ShopViewSetGroup(SnippetViewSetGroup):
    menu_label = _("Shop")
    menu_icon = "site"
    menu_order = 300
    items = (
        OrderViewSet,
        CustomerViewSet,
        ProductViewSet,
        CategoryViewSet,
        ApiTokenViewSet,
    )


register_snippet(ShopViewSetGroup)
