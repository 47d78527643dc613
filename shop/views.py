from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render

from shop.queries import orders_for_user

ORDERS_PER_PAGE = 20


@login_required
def my_orders(request):
    """The signed-in customer's orders: only those of addresses they verified."""
    page = Paginator(orders_for_user(request.user), ORDERS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "shop/my_orders.html",
        {"page": page, "shop_time_zone": settings.SHOP_TIME_ZONE},
    )
