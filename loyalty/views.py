"""My points and My coupons: the signed-in customer's own loyalty data."""

import uuid

from dateutil.relativedelta import relativedelta
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from loyalty import services
from loyalty.forms import RedeemForm
from loyalty.models import LoyaltySettings, PointsAccount, Reward
from loyalty.queries import coupons_for_customer, customer_for_user, displayed_status

HISTORY_LENGTH = 50


@login_required
def my_points(request):
    now = timezone.now()
    customer = customer_for_user(request.user)
    account = (
        PointsAccount.objects.filter(customer=customer).first() if customer else None
    )
    rules = LoyaltySettings.load(request_or_site=request)
    entries = (
        list(account.entries.all()[:HISTORY_LENGTH]) if account is not None else []
    )
    balance = account.balance if account else 0
    expiring_soon = (
        account is not None
        and account.balance > 0
        and account.expires_at is not None
        and account.expires_at <= now + relativedelta(days=2 * rules.reminder_days)
    )
    return render(
        request,
        "loyalty/my_points.html",
        {
            "customer": customer,
            "account": account,
            "balance": balance,
            "entries": entries,
            "expiring_soon": expiring_soon,
            "rewards": Reward.objects.filter(active=True),
            "rules": rules,
            "form_key": uuid.uuid4(),
        },
    )


@login_required
@require_POST
def redeem_reward(request, reward_id: int):
    customer = customer_for_user(request.user)
    reward = get_object_or_404(Reward, pk=reward_id, active=True)
    form = RedeemForm(request.POST)
    if customer is None or not form.is_valid():
        messages.error(request, _("That did not work. Please try again."))
        return redirect("loyalty:my_points")
    try:
        coupon = services.redeem(
            customer=customer,
            reward=reward,
            key=f"redeem-form:{customer.pk}:{form.cleaned_data['key']}",
        )
    except services.LoyaltyError as exc:
        messages.error(request, str(exc))
        return redirect("loyalty:my_points")
    messages.success(
        request,
        _("Your coupon for %(reward)s: %(code)s")
        % {"reward": reward.name, "code": coupon.code},
    )
    return redirect("loyalty:my_coupons")


@login_required
def my_coupons(request):
    now = timezone.now()
    customer = customer_for_user(request.user)
    coupons = list(coupons_for_customer(customer)[:100])
    for coupon in coupons:
        coupon.status = displayed_status(coupon, now=now)
    return render(
        request, "loyalty/my_coupons.html", {"customer": customer, "coupons": coupons}
    )
