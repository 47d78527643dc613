"""The customer's side: unsubscribe (page and one-click POST) and mail preferences.

No login: the signed token in the link is the proof. The unsubscribe URL takes a POST
without a CSRF token because mail clients' one-click button (RFC 8058) posts
`List-Unsubscribe=One-Click` from outside the site; a POST does nothing without a
valid signature, and all it can do is stop marketing mail.
"""

from django import forms
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from emails import rendering, services
from shop.models import ConsentSource, Customer


def _customer(token: str) -> Customer:
    try:
        customer_id = rendering.customer_for_token(token)
    except signing.BadSignature:
        raise Http404("invalid link") from None
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        raise Http404("no such customer")
    return customer


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    customer = _customer(token)
    with translation.override(customer.language):
        if request.method == "POST":
            customer = services.set_marketing_consent(
                customer_id=customer.pk,
                consent=False,
                source=ConsentSource.EMAIL_LINK,
            )
            if request.POST.get("List-Unsubscribe") == "One-Click":
                return HttpResponse(status=200)
            done = True
        else:
            done = False
        return render(
            request,
            "emails/unsubscribe.html",
            {
                "customer": customer,
                "done": done,
                "preferences_url": rendering.preferences_url(customer.pk),
            },
        )


class PreferencesForm(forms.Form):
    marketing = forms.BooleanField(
        label=_("Offers and news (marketing e-mail)"), required=False
    )


@never_cache
@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest, token: str) -> HttpResponse:
    customer = _customer(token)
    saved = False
    with translation.override(customer.language):
        if request.method == "POST":
            form = PreferencesForm(request.POST)
            if form.is_valid():
                customer = services.set_marketing_consent(
                    customer_id=customer.pk,
                    consent=form.cleaned_data["marketing"],
                    source=ConsentSource.EMAIL_LINK,
                )
                saved = True
        else:
            form = PreferencesForm(initial={"marketing": customer.marketing_consent})
        return render(
            request,
            "emails/preferences.html",
            {"customer": customer, "form": form, "saved": saved},
        )
