"""The "Returns insights" admin pages render the planted numbers (tests/insights/
admin_setup.py works them out), the mark-fixed and override forms call the services
and refuse bad input naming the field, and only the returns team and marketing (and
superusers) get in."""

import datetime as dt
import html as html_lib
import re

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from insights.models import CustomerInsight, Override, ProductFix
from tests.factories import UserFactory
from tests.insights.admin_setup import (
    PERIOD,
    at,
    member_of,
    plant_customers,
    plant_shop,
)

pytestmark = pytest.mark.django_db

PAGES = [
    "insights_dashboard:index",
    "insights_products:index",
    "insights_products:export",
    "insights_centres:index",
    "insights_serial:index",
    "insights_personas:index",
]


@pytest.fixture
def manager(client):
    return member_of(client, "Returns team")


@pytest.fixture
def shop():
    return plant_shop()


def cells(html: str, testid: str) -> list[list[str]]:
    """The text of each row's cells in the table with data-testid=`testid`."""
    table = re.search(rf'data-testid="{testid}".*?</table>', html, re.S).group(0)
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)
    found = []
    for row in rows:
        texts = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        found.append(
            [
                html_lib.unescape(
                    re.sub(r"[ \t\n]+", " ", re.sub(r"<[^>]+>", " ", t)).strip()
                )
                for t in texts
            ]
        )
    return found


def chart_rows(html: str, chart_id: str) -> list[list[str]]:
    table = re.search(rf'data-chart="{chart_id}".*?</table>', html, re.S).group(0)
    return cells(f'<table data-testid="x"{table}', "x")


# Access ---------------------------------------------------------------------------------


@pytest.mark.parametrize("group", ["Returns team", "Marketing"])
def test_the_menu_shows_insights_to_the_returns_team_and_marketing(client, group):
    member_of(client, group)

    response = client.get(reverse("wagtailadmin_home"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Returns insights" in html
    assert reverse("insights_products:index") in html


def test_others_do_not_see_the_menu_and_get_a_403(client, shop):
    member_of(client, "Editors")

    home = client.get(reverse("wagtailadmin_home")).content.decode()
    responses = [client.get(reverse(name)) for name in PAGES]

    assert "Returns insights" not in home
    assert [r.status_code for r in responses] == [403] * len(PAGES)
    assert "Only the returns team and marketing" in responses[0].content.decode()


def test_others_cannot_mark_fixed_or_override(client, shop):
    sam, _kim, _noor = plant_customers()
    member_of(client, "Editors")

    fixed = client.post(
        reverse("insights_products:mark_fixed", args=[shop.a.pk]),
        {"fixed_on": "2026-04-01", "area": "description", "note": "New size chart"},
    )
    overridden = client.post(
        reverse("insights_serial:override", args=[sam.pk]),
        {"override": "never", "reason": "VIP"},
    )

    assert (fixed.status_code, overridden.status_code) == (403, 403)
    assert ProductFix.objects.count() == 0
    assert CustomerInsight.objects.get(customer=sam).override == ""


def test_a_superuser_gets_in(client, shop):
    client.force_login(UserFactory(username="root", is_superuser=True, is_staff=True))

    assert client.get(reverse("insights_dashboard:index")).status_code == 200


# Dashboard ------------------------------------------------------------------------------


def test_the_dashboard_shows_the_planted_rates(client, manager, shop):
    response = client.get(reverse("insights_dashboard:index"), PERIOD)
    html = response.content.decode()

    assert response.status_code == 200
    assert cells(html, "overview")[1:] == [
        ["Units", "145", "32", "22.1\u00a0%"],
        ["Value", "4250.00", "1180.00", "27.8\u00a0%"],
    ]
    trend = chart_rows(html, "insights-trend")
    assert trend[0] == ["Month", "By units", "By value"]
    assert [row[0] for row in trend[1:]] == [
        "January 2026",
        "February 2026",
        "March 2026",
        "April 2026",
        "May 2026",
        "June 2026",
    ]
    assert trend[3] == ["March 2026", "24.8\u00a0%", "34.8\u00a0%"]
    assert trend[5] == ["May 2026", "5.0\u00a0%", "5.0\u00a0%"]
    assert trend[1] == ["January 2026", "0.0\u00a0%", "0.0\u00a0%"]
    assert chart_rows(html, "insights-split")[1:] == [
        ["Returned units", "28", "4", "32"]
    ]
    assert chart_rows(html, "insights-areas")[1:5] == [
        ["Product description", "21"],
        ["Fulfilment", "5"],
        ["None (customer's choice)", "4"],
        ["Packaging", "2"],
    ]
    assert cells(html, "reasons")[1:] == [
        ["Size or fit", "Yes", "21", "65.6\u00a0%"],
        ["Wrong item sent", "Yes", "5", "15.6\u00a0%"],
        ["Changed my mind", "No", "4", "12.5\u00a0%"],
        ["Damaged in transit", "Yes", "2", "6.3\u00a0%"],
    ]
    costs = chart_rows(html, "insights-costs")
    assert costs[0] == [
        "Month",
        "Shipping",
        "Handling",
        "Refunds",
        "Total cost",
        "Value recovered",
    ]
    assert costs[3] == ["March 2026", "4.95", "12.00", "1040.00", "1056.95", "400.00"]
    assert costs[5] == ["May 2026", "0.00", "0.00", "0.00", "0.00", "0.00"]
    assert html.count('role="img"') == 4


def test_the_category_filter_narrows_the_dashboard(client, manager, shop):
    other = client.get(
        reverse("insights_dashboard:index"), PERIOD | {"category": shop.a.category_id}
    )
    html = other.content.decode()

    assert cells(html, "overview")[1] == ["Units", "145", "32", "22.1\u00a0%"]
    assert "Category: Shoes." in html


def test_a_bad_period_names_the_field_and_falls_back(client, manager, shop):
    response = client.get(
        reverse("insights_dashboard:index"),
        {"start": "2026-06-30", "end": "2026-01-01"},
    )
    html = response.content.decode()

    assert response.status_code == 200
    assert re.search(
        r'data-field="end">The end date must not be before the start date', html
    )


# Products to fix ------------------------------------------------------------------------


def test_products_to_fix_lists_the_outlier_only(client, manager, shop):
    html = client.get(reverse("insights_products:index"), PERIOD).content.decode()
    rows = cells(html, "products")[1:]

    assert len(rows) == 1
    (row,) = rows
    assert row[0] == "Shoe A SHOE-A · Shoes"
    assert row[1:7] == [
        "60",
        "21 (35.0\u00a0%)",
        "35.0\u00a0%",
        "19.3\u00a0%",
        "1050.00",
        "Product description",
    ]
    assert row[7] == "Size or fit (21)"
    assert "“Still small”" in row[8]
    assert "“=2+5 runs small — @SUM a size chart”" in row[8]
    assert 'data-sku="SHOE-D"' not in html


def test_mark_fixed_records_the_fix_and_shows_before_and_after(client, manager, shop):
    url = reverse("insights_products:mark_fixed", args=[shop.a.pk])

    form = client.get(url, {"area": "description"})
    response = client.post(
        url, {"fixed_on": "2026-04-01", "area": "description", "note": " Size chart "}
    )

    assert form.status_code == 200
    assert form.context["form"].initial == {
        "fixed_on": timezone.localdate(),
        "area": "description",
    }
    products_page = client.get(reverse("insights_products:index"), PERIOD)
    assert f'href="{url}?area=description"' in products_page.content.decode()
    assert response.status_code == 302
    assert response["Location"] == reverse("insights_products:index")
    fix = ProductFix.objects.get()
    assert (fix.product, fix.fixed_on, fix.area, fix.note, fix.by) == (
        shop.a,
        dt.date(2026, 4, 1),
        "description",
        "Size chart",
        manager,
    )
    html = client.get(reverse("insights_products:index"), PERIOD).content.decode()
    assert re.search(
        r"Fixed on April 1, 2026 \(Product description\)\.\s+"
        r"Before: 50.0\u00a0%, after: 5.0\u00a0%\.",
        html,
    )
    assert cells(html, "fixes")[1] == [
        "Shoe A SHOE-A",
        "April 1, 2026",
        "Product description",
        "Size chart returns-team",
        "50.0\u00a0% (40 units)",
        "5.0\u00a0% (20 units)",
    ]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"area": "description", "note": "x"}, "fixed_on", "This field is required."),
        (
            {"fixed_on": "2999-01-01", "area": "description", "note": "x"},
            "fixed_on",
            "The date of a fix cannot be in the future.",
        ),
        ({"fixed_on": "2026-04-01", "area": "none", "note": "x"}, "area", "Select a"),
        ({"fixed_on": "2026-04-01", "area": "description"}, "note", "required"),
        (
            {"fixed_on": "2026-04-01", "area": "description", "note": "   "},
            "note",
            "required",
        ),
    ],
)
def test_mark_fixed_refuses_bad_input_naming_the_field(
    client, manager, shop, data, field, message
):
    response = client.post(
        reverse("insights_products:mark_fixed", args=[shop.a.pk]), data
    )

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == [field]
    assert message in errors[field][0]
    assert ProductFix.objects.count() == 0


# Centres --------------------------------------------------------------------------------


def test_centres_show_damage_wrong_item_and_mismatch_rates(client, manager, shop):
    html = client.get(reverse("insights_centres:index"), PERIOD).content.decode()

    assert cells(html, "centres")[1:] == [
        ["Rotterdam", "4", "50.0\u00a0%", "25.0\u00a0%", "3", "33.3\u00a0%"],
        ["Tilburg", "0", "0.0\u00a0%", "0.0\u00a0%", "0", "0.0\u00a0%"],
    ]
    assert chart_rows(html, "insights-centres")[1] == [
        "Rotterdam",
        "50.0\u00a0%",
        "25.0\u00a0%",
        "33.3\u00a0%",
    ]
    assert "Category" not in re.search(r"<form.*?</form>", html, re.S).group(0)
    assert "Returns filed from Jan. 1, 2026 until June 30, 2026." in html


# Serial returners and personas ---------------------------------------------------------


def test_serial_returners_lists_the_flagged_customer(client, manager):
    sam, _kim, _noor = plant_customers()
    flagged = CustomerInsight.objects.get(customer=sam).flagged_since

    html = client.get(reverse("insights_serial:index")).content.decode()
    rows = cells(html, "serial-returners")[1:]

    assert len(rows) == 1
    assert rows[0][:8] == [
        "sam@example.com",
        "3",
        "6",
        "4",
        "66.7\u00a0% 66.7\u00a0% by value",
        "120.00",
        date_format(timezone.localtime(flagged)),
        "Yes",
    ]


def test_an_override_needs_a_reason_and_is_kept(client, manager):
    sam, kim, _noor = plant_customers()
    url = reverse("insights_serial:override", args=[kim.pk])

    refused = client.post(url, {"override": "always", "reason": "  "})
    kim_before = CustomerInsight.objects.get(customer=kim)
    saved = client.post(url, {"override": "always", "reason": "Wardrobing, see #12"})

    assert refused.status_code == 400
    assert list(refused.context["form"].errors) == ["reason"]
    assert (kim_before.override, kim_before.override_reason) == ("", "")
    assert saved.status_code == 302
    kim_after = CustomerInsight.objects.get(customer=kim)
    assert (
        kim_after.override,
        kim_after.override_reason,
        kim_after.override_by,
        kim_after.is_serial_returner,
    ) == (Override.ALWAYS, "Wardrobing, see #12", manager, True)
    html = client.get(reverse("insights_serial:index")).content.decode()
    rows = {row[0]: row for row in cells(html, "serial-returners")[1:]}
    assert set(rows) == {"sam@example.com", "kim@example.com"}
    assert rows["kim@example.com"][7] == "Yes"
    assert rows["kim@example.com"][8].startswith(
        "Always a serial returner : Wardrobing, see #12 returns-team"
    )


def test_an_override_to_never_keeps_the_customer_listed_but_not_treated(
    client, manager
):
    sam, _kim, _noor = plant_customers()

    client.post(
        reverse("insights_serial:override", args=[sam.pk]),
        {"override": "never", "reason": "Returns are our fault"},
    )
    html = client.get(reverse("insights_serial:index")).content.decode()
    (row,) = cells(html, "serial-returners")[1:]

    assert row[0] == "sam@example.com"
    assert row[7] == "No"
    assert CustomerInsight.objects.get(customer=sam).is_serial_returner is False


def test_an_unknown_override_value_is_refused(client, manager):
    sam, _kim, _noor = plant_customers()

    response = client.post(
        reverse("insights_serial:override", args=[sam.pk]),
        {"override": "sometimes", "reason": "x"},
    )

    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["override"]
    assert CustomerInsight.objects.get(customer=sam).override == ""


def test_personas_show_every_customer_once(client, manager, shop):
    plant_customers()

    html = client.get(reverse("insights_personas:index")).content.decode()

    assert chart_rows(html, "insights-personas")[1:] == [
        ["New customer", "1", "20.0\u00a0%"],
        ["One-time buyer", "2", "40.0\u00a0%"],
        ["Loyal keeper", "1", "20.0\u00a0%"],
        ["Bracketer", "0", "0.0\u00a0%"],
        ["Serial returner", "1", "20.0\u00a0%"],
    ]
    assert "5 customers, each in exactly one persona" in html


def test_the_mark_fixed_page_lists_earlier_fixes(client, manager, shop):
    ProductFix.objects.create(
        product=shop.a, fixed_on=at("2026-02-01").date(), area="packaging", note="Box"
    )

    html = client.get(
        reverse("insights_products:mark_fixed", args=[shop.a.pk])
    ).content.decode()

    assert "Earlier fixes" in html
    assert "Feb. 1, 2026 · Packaging · Box" in html


def test_an_override_back_to_as_computed_follows_the_rule_again(client, manager):
    _sam, kim, _noor = plant_customers()
    url = reverse("insights_serial:override", args=[kim.pk])
    client.post(url, {"override": "always", "reason": "Wardrobing"})

    response = client.post(url, {"override": "", "reason": "Checked again: fine"})

    assert response.status_code == 302
    kim_after = CustomerInsight.objects.get(customer=kim)
    assert (kim_after.override, kim_after.is_serial_returner) == ("", False)
    html = client.get(reverse("insights_serial:index")).content.decode()
    assert 'data-customer="kim@example.com"' not in html
