"""factory_boy factories for the shop's data, shared by every app's tests."""

from datetime import timedelta
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from shop.models import Category, Customer, Order, OrderLine, OrderSource, Product


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("correct horse battery staple")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    email = factory.Sequence(lambda n: f"customer{n}@example.com")
    first_name = "Anna"
    last_name = factory.Sequence(lambda n: f"Jansen{n}")
    language = "en"


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Category {n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Sequence(lambda n: f"Product {n}")
    category = factory.SubFactory(CategoryFactory)
    price = Decimal("19.95")
    currency = "EUR"


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    source = OrderSource.SHOP
    external_id = factory.Sequence(lambda n: f"ext-{n}")
    number = factory.Sequence(lambda n: f"#{1000 + n}")
    customer = factory.SubFactory(CustomerFactory)
    placed_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=10))
    shipped_at = factory.LazyAttribute(lambda o: o.placed_at + timedelta(days=1))
    delivered_at = factory.LazyAttribute(lambda o: o.placed_at + timedelta(days=3))
    currency = "EUR"
    total = Decimal("0.00")


class OrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory)
    external_id = factory.Sequence(lambda n: f"line-{n}")
    product = factory.SubFactory(ProductFactory)
    quantity = 1
    unit_price = Decimal("19.95")
