"""Returns insights in the Wagtail admin: a "Returns insights" menu with the
dashboard, products to fix, fulfilment centres, serial returners and personas.

Each page is a small ViewSet (its own URL namespace) grouped under one submenu; the
menu items and the pages need `insights.view_insights` (insights/migrations/0002
gives it to the returns team and marketing). The views live in insights/views.py.
"""

from django.urls import path
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy
from wagtail import hooks
from wagtail.admin.menu import MenuItem
from wagtail.admin.viewsets.base import ViewSet, ViewSetGroup

from insights import views

SUBMENU_HOOK = "register_insights_menu_item"


class InsightsMenuItem(MenuItem):
    def is_shown(self, request):
        return request.user.has_perm(views.PERMISSION)


class InsightsViewSet(ViewSet):
    """A page (or a few) of the insights menu: `urls` are (route, view, name)."""

    urls: tuple = ()

    @cached_property
    def menu_item_class(self):
        return InsightsMenuItem

    def get_urlpatterns(self):
        return [path(route, view, name=name) for route, view, name in self.urls]


class DashboardViewSet(InsightsViewSet):
    name = "insights_dashboard"
    url_prefix = "insights/dashboard"
    icon = "view"
    menu_label = gettext_lazy("Dashboard")
    urls = (("", views.dashboard_view, "index"),)


class ProductsViewSet(InsightsViewSet):
    name = "insights_products"
    url_prefix = "insights/products"
    icon = "warning"
    menu_label = gettext_lazy("Products to fix")
    urls = (
        ("", views.products_view, "index"),
        ("export.csv", views.products_export_view, "export"),
        ("<int:product_id>/fixed/", views.mark_fixed_view, "mark_fixed"),
    )


class CentresViewSet(InsightsViewSet):
    name = "insights_centres"
    url_prefix = "insights/centres"
    icon = "home"
    menu_label = gettext_lazy("Fulfilment centres")
    urls = (("", views.centres_view, "index"),)


class SerialReturnersViewSet(InsightsViewSet):
    name = "insights_serial"
    url_prefix = "insights/serial-returners"
    icon = "user"
    menu_label = gettext_lazy("Serial returners")
    urls = (
        ("", views.serial_returners_view, "index"),
        ("<int:customer_id>/override/", views.override_view, "override"),
    )


class PersonasViewSet(InsightsViewSet):
    name = "insights_personas"
    url_prefix = "insights/personas"
    icon = "group"
    menu_label = gettext_lazy("Personas")
    urls = (("", views.personas_view, "index"),)


class InsightsViewSetGroup(ViewSetGroup):
    menu_label = gettext_lazy("Returns insights")
    menu_icon = "view"
    menu_order = 330
    submenu_hook = SUBMENU_HOOK
    items = (
        DashboardViewSet,
        ProductsViewSet,
        CentresViewSet,
        SerialReturnersViewSet,
        PersonasViewSet,
    )


@hooks.register("register_admin_viewset")
def register_insights_viewsets():
    return InsightsViewSetGroup()
