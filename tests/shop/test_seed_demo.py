"""seed_demo: the demo data the one-command demo shows, the same on every run."""

import hashlib
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from wagtail.models import Locale, Page, Site

from cms.models import HomePage
from shop import demo
from shop.models import Category, Customer, Order, OrderLine, Product
from shop.queries import orders_for_user

pytestmark = pytest.mark.django_db


def seed() -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("seed_demo", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def first_run(django_db_setup, django_db_blocker):
    """The whole demo takes a while: seed it once for the module, inside a transaction
    every test's own savepoint nests in, and undo it at the end. Yields what the first
    run printed."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield seed()
        transaction.set_rollback(True)


def snapshot() -> tuple[dict[str, int], str]:
    """Row counts, and a checksum over every field that matters of the demo's rows."""
    counts = {
        model.__name__: model.objects.count()
        for model in (
            Category,
            Product,
            Customer,
            Order,
            OrderLine,
            get_user_model(),
            Group,
            EmailAddress,
            Page,
            Locale,
            Site,
        )
    }
    rows = [
        *Product.objects.order_by("sku").values_list(
            "sku", "name", "price", "currency", "category__name", "product_url"
        ),
        *Customer.objects.order_by("email").values_list(
            "email",
            "first_name",
            "last_name",
            "language",
            "marketing_consent",
            "marketing_consent_at",
            "user__username",
        ),
        *Order.objects.order_by("external_id").values_list(
            "source",
            "external_id",
            "number",
            "customer__email",
            "placed_at",
            "shipped_at",
            "delivered_at",
            "total",
        ),
        *OrderLine.objects.order_by("order__external_id", "external_id").values_list(
            "order__external_id",
            "external_id",
            "product__sku",
            "quantity",
            "unit_price",
        ),
        *get_user_model()
        .objects.order_by("username")
        .values_list("username", "password", "is_staff", "is_superuser"),
        *Page.objects.order_by("path").values_list(
            "path", "title", "slug", "live", "locale__language_code", "latest_revision"
        ),
        *Site.objects.values_list("hostname", "root_page", "is_default_site"),
    ]
    return counts, hashlib.sha256(repr(rows).encode()).hexdigest()


def test_seed_creates_the_demo_shop(first_run):
    out, _ = first_run

    assert "shop: created 6 users, 60 products, 300 customers, 2000 orders" in out
    assert Category.objects.count() == 6
    assert set(
        Category.objects.annotate(n=Count("products")).values_list("name", "n")
    ) == {
        ("Clothing", 10),
        ("Shoes", 10),
        ("Electronics", 10),
        ("Home", 10),
        ("Beauty", 10),
        ("Sports", 10),
    }
    assert Customer.objects.count() == 300
    assert set(Customer.objects.values_list("language", flat=True)) == {"en", "nl"}
    consenting = Customer.objects.filter(marketing_consent=True).count()
    assert 60 < consenting < 200

    assert Order.objects.count() == 2000
    lines_per_order = set(
        Order.objects.annotate(n=Count("lines")).values_list("n", flat=True)
    )
    assert lines_per_order == {1, 2, 3, 4}
    for order in Order.objects.prefetch_related("lines")[:200]:
        assert order.total == sum(
            (line.line_total for line in order.lines.all()), Decimal("0.00")
        )


def test_orders_span_a_year_and_most_are_delivered(first_run):
    now = timezone.now()

    assert not Order.objects.filter(placed_at__gt=now).exists()
    assert not Order.objects.filter(placed_at__lt=now - timedelta(days=367)).exists()
    delivered = Order.objects.filter(delivered_at__isnull=False)
    shipped_only = Order.objects.filter(
        shipped_at__isnull=False, delivered_at__isnull=True
    )
    placed_only = Order.objects.filter(shipped_at__isnull=True)
    assert delivered.count() > 1900
    assert shipped_only.exists()
    assert placed_only.exists()
    assert not placed_only.filter(delivered_at__isnull=False).exists()
    for order in delivered[:200]:
        assert order.placed_at < order.shipped_at < order.delivered_at <= now
    # order numbers rise with the date, as in the shop
    by_date = list(Order.objects.order_by("placed_at").values_list("number", flat=True))
    assert by_date == sorted(by_date)


def test_seed_creates_the_demo_accounts(first_run):
    user_model = get_user_model()

    admin = user_model.objects.get(username="admin")
    assert admin.is_superuser and admin.check_password("admin")
    for username, group in {
        "editor": "Editors",
        "moderator": "Moderators",
        "returns": "Returns team",
        "marketing": "Marketing",
    }.items():
        user = user_model.objects.get(username=username)
        assert user.check_password(username)
        assert list(user.groups.values_list("name", flat=True)) == [group]
        assert user.has_perm("wagtailadmin.access_admin")

    customer_user = user_model.objects.get(email="customer@example.com")
    assert customer_user.check_password("customer")
    assert EmailAddress.objects.filter(
        user=customer_user, email="customer@example.com", verified=True, primary=True
    ).exists()
    assert orders_for_user(customer_user).count() == 10


def test_demo_customer_signs_in_and_sees_their_orders(first_run, client):

    response = client.post(
        "/accounts/login/",
        {"login": "customer@example.com", "password": "customer"},
    )

    assert response.status_code == 302
    orders = client.get("/orders/")
    assert orders.status_code == 200
    assert "RW100001" in orders.content.decode()


def test_seed_makes_the_home_page_the_site_root_in_english_and_dutch(first_run, client):

    site = Site.objects.get(is_default_site=True)
    home = site.root_page.specific
    assert isinstance(home, HomePage)
    assert home.locale.language_code == "en"
    assert home.live
    dutch = home.get_translation(Locale.objects.get(language_code="nl"))
    assert dutch.live and dutch.specific.hero_title == "Retourneren, eenvoudig geregeld"
    assert not Page.objects.filter(
        title__startswith="Welcome to your new Wagtail"
    ).exists()
    assert "Returns, made simple" in client.get("/").content.decode()
    assert "Retourneren, eenvoudig geregeld" in client.get("/nl/").content.decode()


def test_running_it_twice_changes_nothing(first_run):
    before = snapshot()

    out, _ = seed()

    assert "shop: created 0 users, 0 products, 0 customers, 0 orders" in out
    assert "cms: created 0 locales, 0 pages" in out
    assert snapshot() == before


def test_a_rerun_days_later_recreates_a_missing_order_with_its_old_dates(
    first_run, monkeypatch
):
    # given demo data seeded, then an order deleted
    order = Order.objects.get(external_id="demo-01000")
    original = (order.placed_at, order.shipped_at, order.delivered_at, order.total)
    order.delete()

    # when seed_demo runs again three days later
    later = timezone.now() + timedelta(days=3)
    monkeypatch.setattr(demo.timezone, "now", lambda: later)
    seed()

    # then the order is back exactly as it was: dates come from the first run's day
    order = Order.objects.get(external_id="demo-01000")
    assert (order.placed_at, order.shipped_at, order.delivered_at, order.total) == (
        original
    )
    assert Order.objects.count() == 2000


def test_the_plan_is_the_same_every_time():
    assert demo.plan_demo() == demo.plan_demo()


def test_warns_about_its_well_known_passwords_when_debug_is_off(first_run, settings):
    settings.DEBUG = False

    _, err = seed()

    assert "well-known passwords" in err
