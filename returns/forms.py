"""The returns portal's forms: the guest lookup, the return itself (lines, reasons,
feedback, resolution), the confirmation, and the returns team's action forms."""

from __future__ import annotations

import random
from dataclasses import dataclass

from django import forms
from django.utils.translation import gettext_lazy as _

from returns.eligibility import LineEligibility
from returns.models import Condition, Disposition, Resolution, ReturnReason

TEXT_LIMIT = 2000
PHOTO_TYPES = "image/jpeg,image/png,image/webp"


class GuestLookupForm(forms.Form):
    order_number = forms.CharField(label=_("Order number"), max_length=64)
    email = forms.EmailField(label=_("E-mail address used for the order"))

    def clean_order_number(self):
        return self.cleaned_data["order_number"].strip()


def shuffled_reasons(reasons: list[ReturnReason]) -> list[ReturnReason]:
    """The active reasons in a fresh random order for each page, so the first one
    does not collect the hurried answers; "other" stays last."""
    listed = [reason for reason in reasons if not reason.is_other]
    random.shuffle(listed)  # noqa: S311 - an order to show, not a secret
    return listed + [reason for reason in reasons if reason.is_other]


@dataclass
class LineFields:
    """One order line on the form: what may be returned and its fields."""

    eligibility: LineEligibility
    quantity: forms.BoundField | None = None
    reason: forms.BoundField | None = None
    comment: forms.BoundField | None = None
    prevention: forms.BoundField | None = None
    photo: forms.BoundField | None = None
    resolution: forms.BoundField | None = None

    @property
    def line(self):
        return self.eligibility.order_line

    @property
    def choice_fields(self) -> list:
        return [self.quantity, self.reason]

    @property
    def feedback_fields(self) -> list:
        return [self.comment, self.prevention, self.photo]


@dataclass(frozen=True)
class ChosenLine:
    order_line_id: int
    quantity: int
    reason_code: str
    comment: str
    prevention: str
    resolution: str
    photo: object = None


class ReturnForm(forms.Form):
    """Every line of the order: a quantity (0 = keep), and for each line returned a
    reason, feedback, an optional photo and a resolution the policy offers. Field
    names carry the order line's id: `line-<id>-quantity`, `line-<id>-reason`, …"""

    def __init__(
        self,
        *args,
        eligibility: list[LineEligibility],
        reasons: list[ReturnReason],
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.reasons_by_code = {reason.code: reason for reason in reasons}
        reason_choices = [("", _("Choose a reason"))] + [
            (reason.code, reason.label) for reason in reasons
        ]
        resolution_labels = dict(Resolution.choices)
        self.eligibility = eligibility
        for item in eligibility:
            if not item.eligible:
                continue
            prefix = self.prefix_for(item.order_line.pk)
            self.fields[f"{prefix}-quantity"] = forms.IntegerField(
                label=_("How many to return"),
                min_value=0,
                max_value=item.returnable_quantity,
                initial=0,
                required=False,
            )
            self.fields[f"{prefix}-reason"] = forms.ChoiceField(
                label=_("Why are you returning it?"),
                choices=reason_choices,
                required=False,
            )
            self.fields[f"{prefix}-comment"] = forms.CharField(
                label=_("What was wrong?"),
                widget=forms.Textarea(attrs={"rows": 2}),
                max_length=TEXT_LIMIT,
                required=False,
            )
            self.fields[f"{prefix}-prevention"] = forms.CharField(
                label=_("What would have prevented this return?"),
                widget=forms.Textarea(attrs={"rows": 2}),
                max_length=TEXT_LIMIT,
                required=False,
            )
            self.fields[f"{prefix}-photo"] = forms.FileField(
                label=_("Photo (optional; helps with damage or a defect)"),
                required=False,
                widget=forms.ClearableFileInput(attrs={"accept": PHOTO_TYPES}),
            )
            choices = [
                (value, resolution_labels.get(value, value))
                for value in item.resolutions
            ]
            self.fields[f"{prefix}-resolution"] = forms.ChoiceField(
                label=_("What would you like instead?"),
                choices=choices,
                initial=choices[0][0] if len(choices) == 1 else None,
                required=False,
                widget=forms.RadioSelect,
            )

    @staticmethod
    def prefix_for(order_line_id: int) -> str:
        return f"line-{order_line_id}"

    def lines(self) -> list[LineFields]:
        found = []
        for item in self.eligibility:
            fields = LineFields(eligibility=item)
            if item.eligible:
                prefix = self.prefix_for(item.order_line.pk)
                for name in (
                    "quantity",
                    "reason",
                    "comment",
                    "prevention",
                    "photo",
                    "resolution",
                ):
                    setattr(fields, name, self[f"{prefix}-{name}"])
            found.append(fields)
        return found

    def clean(self):
        cleaned = super().clean()
        chosen = []
        for item in self.eligibility:
            if not item.eligible:
                continue
            prefix = self.prefix_for(item.order_line.pk)
            quantity = cleaned.get(f"{prefix}-quantity") or 0
            if quantity == 0:
                continue
            reason = cleaned.get(f"{prefix}-reason")
            resolution = cleaned.get(f"{prefix}-resolution")
            if not reason:
                self.add_error(
                    f"{prefix}-reason", _("Choose why you are returning this item.")
                )
            if not resolution:
                self.add_error(
                    f"{prefix}-resolution", _("Choose what you would like instead.")
                )
            if reason and resolution:
                chosen.append(
                    ChosenLine(
                        order_line_id=item.order_line.pk,
                        quantity=quantity,
                        reason_code=reason,
                        comment=(cleaned.get(f"{prefix}-comment") or "").strip(),
                        prevention=(cleaned.get(f"{prefix}-prevention") or "").strip(),
                        resolution=resolution,
                        photo=cleaned.get(f"{prefix}-photo"),
                    )
                )
        if not chosen and not self.errors:
            raise forms.ValidationError(
                _("Choose how many of at least one item you want to return."),
                code="nothing_chosen",
            )
        cleaned["chosen"] = chosen
        return cleaned


class ConfirmForm(forms.Form):
    """The one-time key made with the draft: submitting twice files one return."""

    key = forms.CharField(widget=forms.HiddenInput, max_length=64)


class CancelForm(forms.Form):
    confirm = forms.BooleanField(
        label=_("Yes, cancel this return"), required=True, initial=False
    )


# The returns team's actions ------------------------------------------------------------


class NoteForm(forms.Form):
    note = forms.CharField(
        label=_("Note"),
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        max_length=TEXT_LIMIT,
    )


class RejectForm(forms.Form):
    reason = forms.CharField(
        label=_("Why is it rejected?"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=TEXT_LIMIT,
        help_text=_("Shown to the customer."),
        error_messages={"required": _("Say why the return is rejected.")},
    )

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError(_("Say why the return is rejected."))
        return reason


class _PerLineForm(forms.Form):
    """A field (or a few) per return line: `line-<id>-<name>`."""

    def __init__(self, *args, lines, **kwargs):
        super().__init__(*args, **kwargs)
        self.return_lines = list(lines)
        for line in self.return_lines:
            self.add_line_fields(line)

    def add_line_fields(self, line):
        raise NotImplementedError

    def rows(self):
        names = self.line_field_names
        return [
            (line, [self[f"line-{line.pk}-{name}"] for name in names])
            for line in self.return_lines
        ]

    def per_line(self) -> dict[int, dict]:
        return {
            line.pk: {
                name: self.cleaned_data[f"line-{line.pk}-{name}"]
                for name in self.line_field_names
            }
            for line in self.return_lines
        }


class ReceiveForm(_PerLineForm):
    line_field_names = ("condition",)

    def add_line_fields(self, line):
        self.fields[f"line-{line.pk}-condition"] = forms.ChoiceField(
            label=_("Condition"), choices=Condition.choices
        )

    def conditions(self) -> dict[int, str]:
        return {pk: values["condition"] for pk, values in self.per_line().items()}


class InspectForm(_PerLineForm):
    line_field_names = ("confirmed_reason", "condition", "disposition")

    def __init__(self, *args, reasons, **kwargs):
        self.reason_choices = [(reason.code, reason.label) for reason in reasons]
        super().__init__(*args, **kwargs)

    def add_line_fields(self, line):
        prefix = f"line-{line.pk}"
        self.fields[f"{prefix}-confirmed_reason"] = forms.ChoiceField(
            label=_("Confirmed reason"),
            choices=self.reason_choices,
            initial=line.reason.code,
        )
        self.fields[f"{prefix}-condition"] = forms.ChoiceField(
            label=_("Condition"),
            choices=Condition.choices,
            initial=line.condition or None,
        )
        self.fields[f"{prefix}-disposition"] = forms.ChoiceField(
            label=_("Disposition"),
            choices=Disposition.choices,
            initial=line.disposition or None,
        )

    def findings(self) -> dict[int, dict]:
        return self.per_line()
