"""The server-side SVG charts: well-formed, accessible (role, title, desc), escaped,
deterministic, and their points and bars sit where the numbers say; the include
renders the same numbers as a table beside the chart."""

import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
from django.template.loader import render_to_string
from django.utils import translation

from insights.charts import (
    BAR_LABEL_WIDTH,
    BAR_VALUE_WIDTH,
    LINE_HEIGHT,
    MARGIN_BOTTOM,
    MARGIN_TOP,
    WIDTH,
    Series,
    bar_chart,
    format_value,
    grouped_bar_chart,
    line_chart,
    nice_max,
    stacked_bar_chart,
)

SVG = "{http://www.w3.org/2000/svg}"
BOTTOM = LINE_HEIGHT - MARGIN_BOTTOM
PLOT_HEIGHT = LINE_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM


def parse(chart):
    return ET.fromstring(str(chart.svg))  # noqa: S314 - our own markup


def trend(**overrides):
    arguments = {
        "chart_id": "trend",
        "title": "Return rate per month",
        "description": "Units and value",
        "labels": ["Jan 2026", "Feb 2026", "Mar 2026"],
        "series": [
            Series("By units", [Decimal("0.10"), Decimal("0.20"), Decimal("0.15")]),
            Series("By value", [Decimal("0.05"), None, Decimal("0.25")]),
        ],
        "first_column": "Month",
    }
    return line_chart(**(arguments | overrides))


@pytest.mark.parametrize(
    ("peak", "expected"),
    [(0, 1.0), (0.2, 0.2), (0.21, 0.25), (0.3, 0.5), (0.7, 1.0), (7, 10), (120, 200)],
)
def test_the_axis_ends_on_a_round_number(peak, expected):
    assert nice_max(peak) == pytest.approx(expected)


def test_a_line_chart_is_an_accessible_svg():
    root = parse(trend())

    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "trend-title trend-desc"
    assert root.find(f"{SVG}title").text == "Return rate per month"
    assert root.find(f"{SVG}title").get("id") == "trend-title"
    assert root.find(f"{SVG}desc").text == "Units and value"


def test_line_points_sit_at_their_values():
    root = parse(trend())
    # The peak is 0.25, so the axis runs 0 .. 0.25.
    units, value = root.findall(f".//{SVG}g[@class='series']")
    units_points = units.findall(f"{SVG}circle")

    assert [c.get("data-value") for c in units_points] == ["0.10", "0.20", "0.15"]
    for circle in units_points:
        expected = BOTTOM - float(circle.get("data-value")) / 0.25 * PLOT_HEIGHT
        assert float(circle.get("cy")) == pytest.approx(expected, abs=0.05)
    xs = [float(c.get("cx")) for c in units_points]
    assert xs[0] < xs[1] < xs[2]
    assert xs[1] - xs[0] == pytest.approx(xs[2] - xs[1], abs=0.1)
    assert [t.text for t in units.iter(f"{SVG}title")] == [
        "By units, Jan 2026: 10.0\u00a0%",
        "By units, Feb 2026: 20.0\u00a0%",
        "By units, Mar 2026: 15.0\u00a0%",
    ]


def test_a_missing_value_breaks_the_line():
    root = parse(trend())
    _units, value = root.findall(f".//{SVG}g[@class='series']")

    assert len(value.findall(f"{SVG}circle")) == 2
    # Jan and Mar are not joined across the missing February.
    assert value.findall(f"{SVG}polyline") == []
    assert (
        len(root.findall(f".//{SVG}g[@class='series']")[0].findall(f"{SVG}polyline"))
        == 1
    )


def test_the_table_holds_the_same_numbers():
    chart = trend()

    assert chart.columns == ["Month", "By units", "By value"]
    assert chart.rows == [
        ["Jan 2026", "10.0\u00a0%", "5.0\u00a0%"],
        ["Feb 2026", "20.0\u00a0%", "–"],
        ["Mar 2026", "15.0\u00a0%", "25.0\u00a0%"],
    ]


def test_labels_and_titles_are_escaped():
    chart = trend(
        title='<script>alert("x")</script>',
        labels=["<b>Jan</b>", "Feb & Mar", '"Apr"'],
        series=[Series("<i>units</i>", [1, 2, 3])],
        fmt="number",
    )
    root = parse(chart)

    assert "<script>" not in str(chart.svg)
    assert "<b>" not in str(chart.svg)
    assert root.find(f"{SVG}title").text == '<script>alert("x")</script>'
    axis_texts = [t.text for t in root.find(f".//{SVG}g[@class='axis']")]
    assert "<b>Jan</b>" in axis_texts
    assert "Feb & Mar" in axis_texts
    assert root.find(f".//{SVG}g[@class='series']").get("data-series") == "<i>units</i>"


def test_the_output_is_deterministic():
    assert str(trend().svg) == str(trend().svg)
    assert str(trend().svg) != str(trend(labels=["a", "b", "c"]).svg)


def test_an_empty_line_chart_still_parses():
    chart = trend(labels=[], series=[Series("By units", [])])
    root = parse(chart)

    assert root.findall(f".//{SVG}circle") == []
    assert chart.rows == []


def test_a_single_month_sits_in_the_middle():
    chart = trend(labels=["Jan 2026"], series=[Series("By units", [Decimal("0.5")])])
    (circle,) = parse(chart).findall(f".//{SVG}circle")

    assert float(circle.get("cy")) == pytest.approx(BOTTOM - PLOT_HEIGHT, abs=0.05)


def test_bars_are_proportional_to_their_values():
    chart = bar_chart(
        chart_id="areas",
        title="Returned units by fix area",
        description="Controllable returns",
        labels=["Description", "Packaging", "Delivery"],
        values=[40, 10, 0],
        first_column="Fix area",
        value_label="Units",
    )
    root = parse(chart)
    bars = root.findall(f".//{SVG}rect")

    assert [b.get("data-value") for b in bars] == ["40", "10"]
    widths = [float(b.get("width")) for b in bars]
    assert widths[0] == pytest.approx(4 * widths[1], abs=0.1)
    assert root.get("role") == "img"
    assert chart.columns == ["Fix area", "Units"]
    assert chart.rows == [["Description", "40"], ["Packaging", "10"], ["Delivery", "0"]]


def test_stacked_bars_split_each_row_and_share_one_scale():
    chart = stacked_bar_chart(
        chart_id="split",
        title="Controllable and uncontrollable",
        description="Units",
        labels=["Jan", "Feb"],
        series=[Series("Controllable", [30, 5]), Series("Uncontrollable", [10, 15])],
        first_column="Month",
        total_label="Total",
    )
    root = parse(chart)
    bars = root.find(f".//{SVG}g[@class='bars']").findall(f"{SVG}rect")
    jan_c, jan_u, feb_c, feb_u = bars

    assert [b.get("data-series") for b in bars] == [
        "Controllable",
        "Uncontrollable",
        "Controllable",
        "Uncontrollable",
    ]
    # Each segment starts where the previous one ends.
    assert float(jan_u.get("x")) == pytest.approx(
        float(jan_c.get("x")) + float(jan_c.get("width")), abs=0.1
    )
    # Jan totals 40, Feb 20: the Feb bar is half as long.
    jan = float(jan_c.get("width")) + float(jan_u.get("width"))
    feb = float(feb_c.get("width")) + float(feb_u.get("width"))
    assert jan == pytest.approx(2 * feb, abs=0.2)
    assert float(jan_c.get("width")) == pytest.approx(
        3 * float(jan_u.get("width")), abs=0.1
    )
    totals = [
        t.text for t in root.find(f".//{SVG}g[@class='bars']").findall(f"{SVG}text")
    ]
    assert totals == ["Jan", "40", "Feb", "20"]
    legend = root.find(f".//{SVG}g[@class='legend']")
    assert [t.text for t in legend.findall(f"{SVG}text")] == [
        "Controllable",
        "Uncontrollable",
    ]
    assert chart.columns == ["Month", "Controllable", "Uncontrollable", "Total"]
    assert chart.rows == [["Jan", "30", "10", "40"], ["Feb", "5", "15", "20"]]


def test_money_and_dutch_formatting():
    assert format_value(Decimal("1234.5"), "money") == "1234.50"
    with translation.override("nl"):
        assert format_value(Decimal("0.125"), "percent") == "12,5\u00a0%"
        assert format_value(Decimal("12.5"), "money") == "12,50"


def test_the_include_renders_the_chart_beside_its_table():
    chart = trend()
    html = render_to_string("insights/admin/includes/chart.html", {"chart": chart})

    assert str(chart.svg) in html
    assert '<table class="listing insights-figure__table"' in html
    assert '<th scope="row">Feb 2026</th>' in html
    assert "<td>20.0\u00a0%</td>" in html
    assert '<caption class="w-sr-only">Return rate per month</caption>' in html


def test_grouped_bars_share_one_rate_scale():
    chart = grouped_bar_chart(
        chart_id="centres",
        title="Damage and wrong items",
        description="Per centre",
        labels=["Rotterdam", "<Tilburg>"],
        series=[
            Series("Damaged", [Decimal("0.10"), Decimal("0.05")]),
            Series("Wrong item", [Decimal("0.20"), None]),
        ],
        first_column="Centre",
    )
    root = parse(chart)
    bars = root.find(f".//{SVG}g[@class='bars']").findall(f"{SVG}rect")

    assert [(b.get("data-series"), b.get("data-value")) for b in bars] == [
        ("Damaged", "0.10"),
        ("Wrong item", "0.20"),
        ("Damaged", "0.05"),
    ]
    widths = [float(b.get("width")) for b in bars]
    assert widths[1] == pytest.approx(2 * widths[0], abs=0.1)
    assert widths[0] == pytest.approx(2 * widths[2], abs=0.1)
    # The axis ends at 20 %, so the largest bar fills the plot.
    assert widths[1] == pytest.approx(WIDTH - BAR_LABEL_WIDTH - BAR_VALUE_WIDTH)
    assert "<Tilburg>" in [t.text for t in root.iter(f"{SVG}text")]
    assert chart.rows == [
        ["Rotterdam", "10.0\u00a0%", "20.0\u00a0%"],
        ["<Tilburg>", "5.0\u00a0%", "–"],
    ]


def test_extra_series_only_go_in_the_table_in_their_own_format():
    chart = bar_chart(
        chart_id="personas",
        title="Customers per persona",
        description="",
        labels=["New", "Loyal"],
        values=[3, 1],
        first_column="Persona",
        value_label="Customers",
        extra=[Series("Share", [Decimal("0.75"), Decimal("0.25")], fmt="percent")],
    )

    assert len(parse(chart).findall(f".//{SVG}rect")) == 2
    assert chart.columns == ["Persona", "Customers", "Share"]
    assert chart.rows == [["New", "3", "75.0\u00a0%"], ["Loyal", "1", "25.0\u00a0%"]]


def test_a_long_period_labels_every_few_months_under_the_axis():
    labels = [f"M{n}" for n in range(36)]
    chart = trend(labels=labels, series=[Series("By units", [1] * 36)], fmt="number")
    axis = [
        t.text
        for t in parse(chart).find(f".//{SVG}g[@class='axis']").iter(f"{SVG}text")
    ]

    assert [text for text in axis if text.startswith("M")] == [
        f"M{n}" for n in range(0, 36, 6)
    ]
    assert len(chart.rows) == 36


@pytest.mark.parametrize(
    ("value", "fmt", "shown"),
    [
        (Decimal("0.6666"), "percent", "66.7\u00a0%"),
        (Decimal("0.0625"), "percent", "6.3\u00a0%"),
        (Decimal("0.0005"), "percent", "0.1\u00a0%"),
        (Decimal("2.675"), "money", "2.68"),
        (Decimal("3"), "number", "3"),
        (Decimal("3.456"), "number", "3.46"),
        (None, "percent", "–"),
    ],
)
def test_numbers_are_rounded_not_cut_off(value, fmt, shown):
    assert format_value(value, fmt) == shown
