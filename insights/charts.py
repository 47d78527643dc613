"""Server-side SVG charts for the insights admin: a line chart (months on x, a rate on
y), horizontal bars, and stacked bars (a split per row).

Every chart is built from plain numbers and returns a `Chart`: the SVG markup
(role="img", a <title> and a <desc> it is labelled by, every text escaped) and the
same numbers as a table, which templates/insights/admin/includes/chart.html renders
beside it for screen readers and export. The output is deterministic: coordinates are
rounded, nothing random or time-dependent goes in, so equal numbers give equal bytes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from django.utils.formats import number_format
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

Number = Decimal | int | float
Format = Literal["percent", "number", "money"]

# A palette readable by most kinds of colour blindness (Okabe-Ito), in a fixed order.
PALETTE = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#999999",
    "#F0E442",
)

WIDTH = 640
LINE_HEIGHT = 240
MARGIN_LEFT = 56
MARGIN_RIGHT = 32
MARGIN_TOP = 16
MARGIN_BOTTOM = 40
LEGEND_HEIGHT = 20
GRID_LINES = 4
MAX_X_LABELS = 7

BAR_LABEL_WIDTH = 200
BAR_VALUE_WIDTH = 72
BAR_HEIGHT = 18
BAR_GAP = 8


@dataclass(frozen=True)
class Series:
    """One named row of numbers, one per label (None: no number for that label).
    `fmt` overrides the chart's number format for this series."""

    label: str
    values: Sequence[Number | None]
    fmt: Format | None = None


@dataclass(frozen=True)
class Chart:
    """An SVG and the table of the numbers it draws."""

    chart_id: str
    title: str
    description: str
    svg: SafeString
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


def format_value(value: Number | None, fmt: Format = "number") -> str:
    """A number as the table and the tooltips show it (localised separators)."""
    if value is None:
        return "–"
    if fmt == "percent":
        return f"{_rounded(Decimal(str(value)) * 100, 1)}\u00a0%"
    if fmt == "money":
        return _rounded(Decimal(str(value)), 2)
    if isinstance(value, int) or (
        isinstance(value, Decimal) and value == value.to_integral_value()
    ):
        return number_format(int(value))
    return _rounded(Decimal(str(value)), 2)


def _rounded(value: Decimal, places: int) -> str:
    """Rounded half up first: number_format alone cuts the digits off."""
    exponent = Decimal(1).scaleb(-places)
    return number_format(value.quantize(exponent, rounding=ROUND_HALF_UP), places)


def nice_max(peak: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10ⁿ at or above `peak` (1 when nothing to show)."""
    if peak <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(peak))
    for step in (1, 2, 2.5, 5, 10):
        if peak <= step * magnitude * (1 + 1e-9):
            return step * magnitude
    return 10 * magnitude  # pragma: no cover - the loop always returns


def _coord(value: float) -> str:
    """A coordinate with at most one decimal and no trailing zero."""
    text = f"{round(value, 1):.1f}"
    return text[:-2] if text.endswith(".0") else text


def _svg(chart_id: str, title: str, description: str, width: int, height: int, body):
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="insights-chart" '
        f'id="{escape(chart_id)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc">'
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>'
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>'
    )
    return mark_safe(head + "".join(body) + "</svg>")  # noqa: S308 - all text escaped


def _legend(series: Sequence[Series], *, y: float) -> list[str]:
    parts = ['<g class="legend">']
    x = MARGIN_LEFT
    for index, one in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        parts.append(
            f'<rect x="{x}" y="{_coord(y - 9)}" width="10" height="10" '
            f'fill="{colour}"/>'
            f'<text x="{x + 14}" y="{_coord(y)}" font-size="11">'
            f"{escape(one.label)}</text>"
        )
        x += 14 + 7 * len(one.label) + 16
    parts.append("</g>")
    return parts


def _table(
    first_column: str,
    labels: Sequence[str],
    series: Sequence[Series],
    fmt: Format,
    *,
    total_label: str | None = None,
    extra: Sequence[Series] = (),
) -> tuple[list[str], list[list[str]]]:
    """The chart's numbers as table cells; `extra` series are only in the table."""
    columns = [first_column] + [one.label for one in series]
    if total_label:
        columns.append(total_label)
    columns += [one.label for one in extra]
    rows = []
    for index, label in enumerate(labels):
        values = [one.values[index] for one in series]
        row = [label] + [
            format_value(one.values[index], one.fmt or fmt) for one in series
        ]
        if total_label:
            row.append(format_value(sum(v for v in values if v is not None), fmt))
        row += [format_value(one.values[index], one.fmt or fmt) for one in extra]
        rows.append(row)
    return columns, rows


def line_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    first_column: str,
    fmt: Format = "percent",
) -> Chart:
    """Lines over `labels` (e.g. months) on a y axis from 0 to a round maximum.
    A None value breaks the line; every point carries its value in a tooltip."""
    height = LINE_HEIGHT + LEGEND_HEIGHT
    plot_width = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_height = LINE_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    bottom = MARGIN_TOP + plot_height
    peak = max(
        (float(v) for one in series for v in one.values if v is not None), default=0
    )
    top = nice_max(peak)
    count = len(labels)

    def x_of(index: int) -> float:
        if count <= 1:
            return MARGIN_LEFT + plot_width / 2
        return MARGIN_LEFT + index * plot_width / (count - 1)

    def y_of(value: Number) -> float:
        return bottom - float(value) / top * plot_height

    body = [
        f'<g class="axis" data-max="{escape(format_value(top, fmt))}" '
        f'font-size="10" fill="#555">'
    ]
    for step in range(GRID_LINES + 1):
        value = top * step / GRID_LINES
        y = _coord(y_of(value))
        body.append(
            f'<line x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{y}" '
            f'y2="{y}" stroke="#ddd"/>'
            f'<text x="{MARGIN_LEFT - 6}" y="{y}" text-anchor="end" '
            f'dominant-baseline="middle">{escape(format_value(value, fmt))}</text>'
        )
    # At most MAX_X_LABELS labels under the axis (every label is in the table).
    every = math.ceil(count / MAX_X_LABELS) if count else 1
    for index, label in enumerate(labels):
        if index % every:
            continue
        body.append(
            f'<text x="{_coord(x_of(index))}" y="{bottom + 16}" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    body.append("</g>")
    for number, one in enumerate(series):
        colour = PALETTE[number % len(PALETTE)]
        body.append(f'<g class="series" data-series="{escape(one.label)}">')
        runs: list[list[str]] = [[]]
        for index, value in enumerate(one.values):
            if value is None:
                runs.append([])
                continue
            runs[-1].append(f"{_coord(x_of(index))},{_coord(y_of(value))}")
        for run in runs:
            if len(run) > 1:
                body.append(
                    f'<polyline points="{" ".join(run)}" fill="none" '
                    f'stroke="{colour}" stroke-width="2"/>'
                )
        for index, value in enumerate(one.values):
            if value is None:
                continue
            tooltip = f"{one.label}, {labels[index]}: {format_value(value, fmt)}"
            body.append(
                f'<circle cx="{_coord(x_of(index))}" cy="{_coord(y_of(value))}" '
                f'r="3" fill="{colour}" data-value="{escape(str(value))}">'
                f"<title>{escape(tooltip)}</title></circle>"
            )
        body.append("</g>")
    body += _legend(series, y=height - 6)
    columns, rows = _table(first_column, labels, series, fmt)
    return Chart(
        chart_id=chart_id,
        title=title,
        description=description,
        svg=_svg(chart_id, title, description, WIDTH, height, body),
        columns=columns,
        rows=rows,
    )


def _bars_height(count: int, legend: bool) -> int:
    rows = max(count, 1)
    return (
        MARGIN_TOP
        + rows * (BAR_HEIGHT + BAR_GAP)
        + (LEGEND_HEIGHT + 8 if legend else 0)
    )


def stacked_bar_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    first_column: str,
    fmt: Format = "number",
    total_label: str | None = None,
    extra: Sequence[Series] = (),
) -> Chart:
    """One horizontal bar per label, split into one segment per series; all bars on
    the same scale (the largest total fills the width). The table gets a total column
    when `total_label` is given, and a column per `extra` series (not drawn)."""
    plot_width = WIDTH - BAR_LABEL_WIDTH - BAR_VALUE_WIDTH
    totals = [
        sum((Decimal(str(one.values[i] or 0)) for one in series), Decimal(0))
        for i in range(len(labels))
    ]
    scale = float(max(totals, default=0)) or 1.0
    legend = len(series) > 1
    height = _bars_height(len(labels), legend)
    body = ['<g class="bars" font-size="11">']
    for index, label in enumerate(labels):
        y = MARGIN_TOP + index * (BAR_HEIGHT + BAR_GAP)
        body.append(
            f'<text x="{BAR_LABEL_WIDTH - 6}" y="{_coord(y + BAR_HEIGHT / 2)}" '
            f'text-anchor="end" dominant-baseline="middle">{escape(label)}</text>'
        )
        x = float(BAR_LABEL_WIDTH)
        for number, one in enumerate(series):
            value = one.values[index]
            if not value:
                continue
            width = max(float(value), 0) / scale * plot_width
            tooltip = f"{label}, {one.label}: {format_value(value, fmt)}"
            body.append(
                f'<rect x="{_coord(x)}" y="{y}" width="{_coord(width)}" '
                f'height="{BAR_HEIGHT}" fill="{PALETTE[number % len(PALETTE)]}" '
                f'data-series="{escape(one.label)}" '
                f'data-value="{escape(str(value))}">'
                f"<title>{escape(tooltip)}</title></rect>"
            )
            x += width
        shown = (
            format_value(totals[index], fmt)
            if len(series) > 1
            else format_value(series[0].values[index], fmt)
        )
        body.append(
            f'<text x="{_coord(x + 6)}" y="{_coord(y + BAR_HEIGHT / 2)}" '
            f'dominant-baseline="middle">{escape(shown)}</text>'
        )
    body.append("</g>")
    if legend:
        body += _legend(series, y=height - 8)
    columns, rows = _table(
        first_column,
        labels,
        series,
        fmt,
        total_label=total_label if legend else None,
        extra=extra,
    )
    return Chart(
        chart_id=chart_id,
        title=title,
        description=description,
        svg=_svg(chart_id, title, description, WIDTH, height, body),
        columns=columns,
        rows=rows,
    )


def bar_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    labels: Sequence[str],
    values: Sequence[Number | None],
    first_column: str,
    value_label: str,
    fmt: Format = "number",
    extra: Sequence[Series] = (),
) -> Chart:
    """One horizontal bar per label (a stacked chart with a single series)."""
    return stacked_bar_chart(
        chart_id=chart_id,
        title=title,
        description=description,
        labels=labels,
        series=[Series(value_label, values)],
        first_column=first_column,
        fmt=fmt,
        extra=extra,
    )


def grouped_bar_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    labels: Sequence[str],
    series: Sequence[Series],
    first_column: str,
    fmt: Format = "percent",
) -> Chart:
    """Per label, one thin horizontal bar per series, all on one scale (for rates
    that must not be added up, such as damage and wrong-item rates per centre)."""
    plot_width = WIDTH - BAR_LABEL_WIDTH - BAR_VALUE_WIDTH
    peak = max(
        (float(v) for one in series for v in one.values if v is not None), default=0
    )
    scale = nice_max(peak) if fmt == "percent" else (peak or 1.0)
    bar = BAR_HEIGHT * 2 // 3
    group = len(series) * bar + BAR_GAP
    legend = len(series) > 1
    height = MARGIN_TOP + max(len(labels), 1) * group + (LEGEND_HEIGHT + 8) * legend
    body = ['<g class="bars" font-size="11">']
    for index, label in enumerate(labels):
        top = MARGIN_TOP + index * group
        body.append(
            f'<text x="{BAR_LABEL_WIDTH - 6}" '
            f'y="{_coord(top + len(series) * bar / 2)}" text-anchor="end" '
            f'dominant-baseline="middle">{escape(label)}</text>'
        )
        for number, one in enumerate(series):
            value = one.values[index]
            y = top + number * bar
            width = max(float(value or 0), 0) / scale * plot_width
            if value is not None:
                tooltip = f"{label}, {one.label}: {format_value(value, fmt)}"
                body.append(
                    f'<rect x="{BAR_LABEL_WIDTH}" y="{y}" width="{_coord(width)}" '
                    f'height="{bar - 1}" fill="{PALETTE[number % len(PALETTE)]}" '
                    f'data-series="{escape(one.label)}" '
                    f'data-value="{escape(str(value))}">'
                    f"<title>{escape(tooltip)}</title></rect>"
                )
            body.append(
                f'<text x="{_coord(BAR_LABEL_WIDTH + width + 6)}" '
                f'y="{_coord(y + bar / 2)}" font-size="10" '
                f'dominant-baseline="middle">{escape(format_value(value, fmt))}</text>'
            )
    body.append("</g>")
    if legend:
        body += _legend(series, y=height - 8)
    columns, rows = _table(first_column, labels, series, fmt)
    return Chart(
        chart_id=chart_id,
        title=title,
        description=description,
        svg=_svg(chart_id, title, description, WIDTH, height, body),
        columns=columns,
        rows=rows,
    )
