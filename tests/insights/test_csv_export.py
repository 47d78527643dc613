"""The products-to-fix CSV: the same list as the page, the planted numbers, and text
that a spreadsheet would run as a formula (=, +, -, @, tab, CR) made inert."""

import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from insights.models import ProductFix
from insights.views import csv_cell
from returns.models import ReturnLine
from tests.insights.admin_setup import PERIOD, at, member_of, plant_shop

pytestmark = pytest.mark.django_db

HEADER = [
    "sku",
    "name",
    "category",
    "units",
    "returned_units",
    "return_rate",
    "controllable_return_rate",
    "category_controllable_rate",
    "wilson_lower",
    "excess",
    "money_lost",
    "priority",
    "fix_area",
    "top_reasons",
    "quotes",
    "fixed_on",
    "rate_before_fix",
    "rate_after_fix",
]


@pytest.fixture
def manager(client):
    return member_of(client, "Returns team")


@pytest.fixture
def shop():
    return plant_shop()


def export(client, **params):
    response = client.get(reverse("insights_products:export"), PERIOD | params)
    assert response.status_code == 200
    return response, list(csv.reader(io.StringIO(response.content.decode())))


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+2", "'=1+2"),
        ("+31 6 1234", "'+31 6 1234"),
        ("-2 sizes", "'-2 sizes"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Runs small = bad", "Runs small = bad"),
        ("", ""),
        (None, ""),
        (Decimal("-0.0500"), Decimal("-0.0500")),
        (3, 3),
    ],
)
def test_formula_like_text_gets_an_apostrophe(value, written):
    assert csv_cell(value) == written


def test_the_export_has_the_planted_product(client, manager, shop):
    ProductFix.objects.create(
        product=shop.a, fixed_on=at("2026-04-01").date(), area="description", note="x"
    )

    response, rows = export(client)

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="products-to-fix-2026-01-01-2026-06-30.csv"'
    )
    assert rows[0] == HEADER
    assert len(rows) == 2
    row = dict(zip(HEADER, rows[1], strict=True))
    assert row == {
        "sku": "SHOE-A",
        "name": "Shoe A",
        "category": "Shoes",
        "units": "60",
        "returned_units": "21",
        "return_rate": "0.3500",
        "controllable_return_rate": "0.3500",
        "category_controllable_rate": "0.1931",
        "wilson_lower": row["wilson_lower"],
        "excess": "0.1569",
        "money_lost": "1050.00",
        "priority": row["priority"],
        "fix_area": "description",
        "top_reasons": "Size or fit (21)",
        "quotes": "Still small | =2+5 runs small — @SUM a size chart",
        "fixed_on": "2026-04-01",
        "rate_before_fix": "0.5000",
        "rate_after_fix": "0.0500",
    }
    assert Decimal("0.2416") <= Decimal(row["wilson_lower"]) <= Decimal("0.2418")
    assert Decimal(row["priority"]) > 0


def test_the_export_makes_formula_like_cells_inert(client, manager, shop):
    shop.a.name = '=HYPERLINK("http://evil.example","Shoe")'
    shop.a.sku = "+SHOE-A"
    shop.a.save()
    shop.a.category.name = "@Shoes"
    shop.a.category.save()
    ReturnLine.objects.filter(comment="Still small").update(comment="-2 sizes please")

    _response, rows = export(client)
    row = dict(zip(HEADER, rows[1], strict=True))

    assert row["name"] == '\'=HYPERLINK("http://evil.example","Shoe")'
    assert row["sku"] == "'+SHOE-A"
    assert row["category"] == "'@Shoes"
    assert row["quotes"] == "'-2 sizes please | =2+5 runs small — @SUM a size chart"
    assert row["units"] == "60"


def test_the_export_follows_the_period_and_category(client, manager, shop):
    _r, empty_period = export(client, start="2025-01-01", end="2025-12-31")
    _r, other = export(client, category=shop.a.category_id)

    assert empty_period == [HEADER]
    assert [row[0] for row in other[1:]] == ["SHOE-A"]


def test_the_page_links_to_the_export_with_its_filter(client, manager, shop):
    html = client.get(reverse("insights_products:index"), PERIOD).content.decode()

    assert (
        f'href="{reverse("insights_products:export")}'
        f'?start=2026-01-01&amp;end=2026-06-30"'
    ) in html
