"""Number formats for the insights admin templates (the same as the charts use)."""

from django import template

from insights.charts import format_value

register = template.Library()


@register.filter
def percent(value) -> str:
    """A rate from 0 to 1 as a percentage with one decimal, e.g. 0.125 → 12.5 %."""
    return format_value(value, "percent")


@register.filter
def money(value) -> str:
    return format_value(value, "money")
