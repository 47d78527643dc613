"""The insights admin's forms: the period and category filter, "mark fixed" for a
product, and the serial-returner override. They only parse input; the views pass the
cleaned data to insights.queries / insights.services."""

from __future__ import annotations

from datetime import date, timedelta

from dateutil.relativedelta import relativedelta
from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.admin.widgets import AdminDateInput

from insights.models import Override
from returns.models import FixArea
from shop.models import Category

NOTE_LIMIT = 2000
REASON_LIMIT = 1000
# The longest period a page aggregates over (keeps the monthly chart readable).
MAX_PERIOD = timedelta(days=366 * 5)


def default_period(today: date | None = None) -> tuple[date, date]:
    """The last twelve whole months plus this month so far."""
    today = today or timezone.localdate()
    start = today.replace(day=1) - relativedelta(months=12)
    return start, today


class PeriodForm(forms.Form):
    """Bound to request.GET; an empty form means the default period."""

    start = forms.DateField(label=_("From"), required=False, widget=AdminDateInput)
    end = forms.DateField(label=_("Until"), required=False, widget=AdminDateInput)
    category = forms.ModelChoiceField(
        label=_("Category"),
        queryset=Category.objects.order_by("name"),
        required=False,
        empty_label=_("All categories"),
    )

    def __init__(self, data=None, *, with_category: bool = True, **kwargs):
        super().__init__(data, **kwargs)
        if not with_category:
            del self.fields["category"]

    def clean(self):
        cleaned = super().clean()
        default_start, default_end = default_period()
        start = cleaned.get("start") or default_start
        end = cleaned.get("end") or default_end
        if "start" in self.errors or "end" in self.errors:
            return cleaned
        if start > end:
            self.add_error("end", _("The end date must not be before the start date."))
        elif end - start > MAX_PERIOD:
            self.add_error("start", _("Choose a period of at most five years."))
        cleaned["start"], cleaned["end"] = start, end
        return cleaned

    def period(self) -> dict:
        """Keyword arguments for the queries: the valid period, else the default."""
        if self.is_valid():
            found = {
                "start": self.cleaned_data["start"],
                "end": self.cleaned_data["end"],
            }
            if "category" in self.fields:
                found["category"] = self.cleaned_data.get("category")
            return found
        start, end = default_period()
        found = {"start": start, "end": end}
        if "category" in self.fields:
            found["category"] = None
        return found


class MarkFixedForm(forms.Form):
    fixed_on = forms.DateField(label=_("Fixed on"), widget=AdminDateInput)
    area = forms.ChoiceField(
        label=_("What was fixed"),
        choices=[("", "---------")]
        + [(value, label) for value, label in FixArea.choices if value != "none"],
    )
    note = forms.CharField(
        label=_("Note"),
        max_length=NOTE_LIMIT,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("What changed: a new description, size guide, photos, a box."),
    )

    def clean_fixed_on(self):
        fixed_on = self.cleaned_data["fixed_on"]
        if fixed_on > timezone.localdate():
            raise forms.ValidationError(_("The date of a fix cannot be in the future."))
        return fixed_on


class OverrideForm(forms.Form):
    override = forms.ChoiceField(
        label=_("Treat as serial returner"),
        choices=Override.choices,
        required=False,
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=REASON_LIMIT,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required. Kept with the override."),
    )
