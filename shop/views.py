from functools import cache
from zoneinfo import available_timezones

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from shop.models import Customer
from shop.queries import orders_for_user
from shop.signals import customer_time_zone_reported

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


@cache
def _known_time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


@login_required
@require_POST
def report_time_zone(request):
    """POST time_zone=<IANA name>, sent once per browser session by static/js/
    time-zone.js: the signed-in customer's time zone, so marketing e-mail keeps their
    quiet hours (campaigns stores it). Only the caller's own customer records; an
    unknown name is refused (400, naming the field) and changes nothing."""
    name = request.POST.get("time_zone", "").strip()
    if len(name) > 64 or name not in _known_time_zones():
        return JsonResponse(
            {"errors": {"time_zone": [_("Unknown time zone.")]}}, status=400
        )
    for customer in Customer.objects.filter(user=request.user):
        customer_time_zone_reported.send(
            sender=Customer, customer=customer, time_zone=name
        )
    return HttpResponse(status=204)
