"""Forms of the campaigns admin: the campaign's edit form (panels in wagtail_hooks.py),
the audience rules read by the live count, and the preview / test-send form.

They parse and validate what the editor typed; what a campaign does with it lives in
campaigns/services.py."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from modelcluster.forms import BaseChildFormSet
from wagtail.admin.forms import WagtailAdminModelForm

from campaigns.models import Campaign, CampaignVariant
from insights.models import Persona
from shop.models import Customer, Language, Order

AUDIENCE_FIELDS = [
    "kind",
    "trigger",
    "delay_days",
    "languages",
    "category",
    "ordered_within_days",
    "persona",
    "include_serial_returners",
]


def _languages_field():
    return forms.MultipleChoiceField(
        label=_("languages"),
        choices=Language.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every language."),
    )


def _persona_field():
    return forms.ChoiceField(
        label=_("persona"),
        choices=[("", _("Any persona")), *Persona.choices],
        required=False,
    )


class CampaignForm(WagtailAdminModelForm):
    """The create/edit form of the campaign with its contents and variants (inline
    formsets, saved together with it)."""

    languages = _languages_field()
    persona = _persona_field()

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("window_start"), cleaned.get("window_end")
        if start and end and end <= start:
            self.add_error(
                "window_end", _("The window must end after it starts (same day).")
            )
        self._check_variant_codes()
        return cleaned

    def _check_variant_codes(self) -> None:
        """Each content names a variant of this form (as it will be saved), or none;
        without variants, the implicit variant A."""
        variants = self.formsets.get("variants")
        contents = self.formsets.get("contents")
        if variants is None or contents is None or not self.is_bound:
            return
        variants.is_valid()
        contents.is_valid()
        codes = {form.cleaned_data.get("code") for form in variants.live_forms()}
        codes = (codes - {None}) or {"A"}
        for form in contents.live_forms():
            code = form.cleaned_data.get("variant_code", "")
            if code and code not in codes:
                form.add_error(
                    "variant_code",
                    _(
                        "No variant has the code {code}: add it under Variants, "
                        "or leave this empty for every variant."
                    ).format(code=code),
                )


class _ChildFormSet(BaseChildFormSet):
    """An inline formset of the campaign form whose duplicate check names the field
    (modelcluster's says "Please correct the duplicate data" on the whole form)."""

    unique_field = ""
    duplicate_message = ""

    def live_forms(self) -> list[forms.Form]:
        """The rows that will be saved: filled in, valid so far, not deleted."""
        return [
            form
            for form in self.forms
            if hasattr(form, "cleaned_data")
            and form.cleaned_data
            and not self._should_delete_form(form)
        ]

    def unique_value(self, form):
        raise NotImplementedError

    def validate_unique(self):
        seen = set()
        for form in self.live_forms():
            value = self.unique_value(form)
            if None in value:
                continue
            if value in seen:
                form.add_error(self.unique_field, self.duplicate_message)
            seen.add(value)


class CampaignVariantFormSet(_ChildFormSet):
    unique_field = "code"
    duplicate_message = _("Another variant already has this code.")

    def unique_value(self, form):
        return (form.cleaned_data.get("code"),)


class CampaignContentFormSet(_ChildFormSet):
    unique_field = "language"
    duplicate_message = _("This language already has a content for this variant.")

    def unique_value(self, form):
        data = form.cleaned_data
        return (data.get("variant_code", ""), data.get("language"))


class AudienceForm(forms.ModelForm):
    """The audience rules as the edit form holds them right now (saved or not): the
    live count runs on an unsaved Campaign built from them."""

    languages = _languages_field()
    persona = _persona_field()

    class Meta:
        model = Campaign
        fields = AUDIENCE_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The count also runs on a half-filled form: what is missing keeps its value.
        for name in ("trigger", "delay_days"):
            self.fields[name].required = False

    def clean_trigger(self):
        return self.cleaned_data["trigger"] or self.instance.trigger

    def clean_delay_days(self):
        days = self.cleaned_data["delay_days"]
        return self.instance.delay_days if days is None else days


class PreviewForm(forms.Form):
    """Who the preview (or the test) is rendered for: a real customer and order."""

    customer = forms.EmailField(
        label=_("Customer's e-mail address"),
        help_text=_("The e-mail is rendered with this customer's data."),
    )
    order = forms.CharField(
        label=_("Order number"),
        required=False,
        max_length=50,
        help_text=_("One of the customer's orders (needed for trigger campaigns)."),
    )
    language = forms.ChoiceField(
        label=_("Language"),
        choices=[("", _("The customer's language")), *Language.choices],
        required=False,
    )
    variant = forms.ChoiceField(label=_("Variant"), required=False)

    def __init__(self, *args, campaign: Campaign, **kwargs):
        super().__init__(*args, **kwargs)
        self.campaign = campaign
        variants = [
            (variant.code, str(variant))
            for variant in CampaignVariant.objects.filter(campaign=campaign)
        ]
        self.fields["variant"].choices = variants or [("A", "A")]

    def clean_customer(self):
        email = self.cleaned_data["customer"]
        customer = Customer.objects.filter(email__iexact=email).first()
        if customer is None:
            raise forms.ValidationError(_("No customer has this e-mail address."))
        return customer

    def clean(self):
        cleaned = super().clean()
        customer = cleaned.get("customer")
        number = (cleaned.get("order") or "").strip()
        cleaned["order"] = None
        if customer is None:
            return cleaned
        if number:
            order = Order.objects.filter(customer=customer, number=number).first()
            if order is None:
                self.add_error(
                    "order", _("This customer has no order with this number.")
                )
            cleaned["order"] = order
        elif self.campaign.is_trigger:
            self.add_error(
                "order", _("Choose one of the customer's orders for this campaign.")
            )
        return cleaned

    def service_kwargs(self) -> dict:
        """The keyword arguments of services.preview / services.send_test."""
        data = self.cleaned_data
        return {
            "campaign": self.campaign,
            "customer": data["customer"],
            "order": data["order"],
            "language": data["language"] or None,
            "variant": data["variant"] or None,
        }
