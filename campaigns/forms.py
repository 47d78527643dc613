"""Forms of the campaigns admin: the campaign's edit form (panels in wagtail_hooks.py),
the audience rules read by the live count, and the preview / test-send form.

They parse and validate what the editor typed; what a campaign does with it lives in
campaigns/services.py."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _
from wagtail.admin.forms import WagtailAdminModelForm

from campaigns.models import Campaign, CampaignContent, CampaignVariant
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
    """The create/edit form of the campaign itself (its contents and variants have
    their own pages)."""

    languages = _languages_field()
    persona = _persona_field()

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("window_start"), cleaned.get("window_end")
        if start and end and end <= start:
            self.add_error(
                "window_end", _("The window must end after it starts (same day).")
            )
        return cleaned


class CampaignContentForm(WagtailAdminModelForm):
    """One content (language, variant) of a campaign, edited on its own page."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        campaign_id = self.instance.campaign_id or self.data.get("campaign")
        if "variant" in self.fields:
            self.fields["variant"].queryset = CampaignVariant.objects.filter(
                campaign_id=campaign_id if str(campaign_id or "").isdigit() else None
            )
            self.fields["variant"].empty_label = _("Every variant")

    def clean(self):
        cleaned = super().clean()
        campaign, variant = cleaned.get("campaign"), cleaned.get("variant")
        language = cleaned.get("language")
        if campaign is None or language is None:
            return cleaned
        if variant is not None and variant.campaign_id != campaign.pk:
            self.add_error("variant", _("Choose a variant of this campaign."))
            return cleaned
        taken = CampaignContent.objects.filter(
            campaign=campaign, variant=variant, language=language
        ).exclude(pk=self.instance.pk)
        if taken.exists():
            self.add_error(
                "language", _("This language already has a content for this variant.")
            )
        return cleaned

    def validate_unique(self):
        """The clean() above names the field; skip Django's generic message."""


class CampaignVariantForm(WagtailAdminModelForm):
    def clean(self):
        cleaned = super().clean()
        campaign, code = cleaned.get("campaign"), cleaned.get("code")
        if campaign is not None and code:
            taken = CampaignVariant.objects.filter(campaign=campaign, code=code)
            if taken.exclude(pk=self.instance.pk).exists():
                self.add_error("code", _("This campaign already has this variant."))
        return cleaned

    def validate_unique(self):
        """The clean() above names the field."""


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
