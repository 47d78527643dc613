from django import forms
from django.utils.translation import gettext_lazy as _

from loyalty.services import ReasonRequired


class RedeemForm(forms.Form):
    """A key made when the page was shown, so a double click issues one coupon."""

    key = forms.UUIDField(widget=forms.HiddenInput)


class AdjustForm(forms.Form):
    points = forms.IntegerField(
        label=_("Points"),
        help_text=_("Positive to add, negative to take away."),
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=255,
        help_text=_("Required. Shown in the audit trail and to the customer."),
    )
    key = forms.UUIDField(widget=forms.HiddenInput)

    def clean_points(self):
        points = self.cleaned_data["points"]
        if points == 0:
            raise forms.ValidationError(_("Give a number other than 0."))
        return points

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError(str(ReasonRequired.message))
        return reason
