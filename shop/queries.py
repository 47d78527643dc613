"""Reads of the shop's data used in more than one place."""

from django.db.models import Prefetch, QuerySet

from shop.models import Order, OrderLine


def orders_for_user(user) -> QuerySet[Order]:
    """The orders of every customer record the account has verified, newest first,
    with their lines and products in one extra query whatever the number of orders."""
    if not user.is_authenticated:
        return Order.objects.none()
    return (
        Order.objects.filter(customer__user=user)
        .select_related("customer")
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=OrderLine.objects.select_related("product__category").order_by(
                    "pk"
                ),
            )
        )
        .order_by("-placed_at", "-pk")
    )
