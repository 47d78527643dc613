"""The customer's review pages: Review your purchases, write (signed in or through a
signed link), My reviews, edit, delete. Thin: each view parses the form and calls one
service or query."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from loyalty.queries import customer_for_user
from loyalty.services import review_points_offer
from reviews import services
from reviews.forms import EditReviewForm, ReviewForm
from reviews.links import order_line_for_review_token
from reviews.models import ReviewSettings
from reviews.queries import lines_to_review, reviewable_line, reviews_of_user


def _offer(customer) -> dict:
    base, photo_bonus = review_points_offer(customer=customer)
    return {"points": base, "photo_bonus": photo_bonus}


def _someone_else(request, customer) -> bool:
    """Signed in, while the customer the link was sent to has another account."""
    owner = customer.user_id
    return (
        request.user.is_authenticated and owner is not None and owner != request.user.pk
    )


def _submit(request, form, line):
    """Call submit_review with the form's data; False (form errors) on a refusal."""
    data = form.cleaned_data
    try:
        services.submit_review(
            order_line=line,
            customer=line.order.customer,
            rating=data["rating"],
            title=data["title"],
            body=data["body"],
            language=data["language"],
            may_quote=data["may_quote"],
            photos=data["photos"],
        )
    except services.InvalidPhoto as exc:
        form.add_error("photos", str(exc))
        return False
    except services.ReviewError as exc:
        form.add_error(None, str(exc))
        return False
    return True


@login_required
@never_cache
def to_review(request):
    lines = list(lines_to_review(request.user))
    return render(
        request,
        "reviews/account/to_review.html",
        {"lines": lines, **_offer(customer_for_user(request.user))},
    )


@login_required
@never_cache
def write(request, line_id: int):
    line = reviewable_line(request.user, line_id)
    if line is None:
        raise Http404
    rules = ReviewSettings.load(request_or_site=request)
    form = ReviewForm(
        request.POST or None, request.FILES or None, max_photos=rules.max_photos
    )
    if request.method == "POST" and form.is_valid() and _submit(request, form, line):
        messages.success(
            request, _("Thank you! Your review is waiting for moderation.")
        )
        return redirect("reviews:mine")
    return render(
        request,
        "reviews/account/write.html",
        {"form": form, "line": line, **_offer(line.order.customer)},
    )


@never_cache
def write_by_link(request, token: str):
    try:
        line = order_line_for_review_token(token)
    except services.ReviewError as exc:
        return render(
            request,
            "reviews/account/link_refused.html",
            {"message": str(exc)},
            status=410 if exc.code in ("link_expired", "link_spent") else 404,
        )
    if _someone_else(request, line.order.customer):
        # The link is the buyer's: signed in as someone else, it would write a
        # review under the buyer's name from another person's session.
        return render(
            request,
            "reviews/account/link_refused.html",
            {"message": _("This link is for another account. Sign out to use it.")},
            status=404,
        )
    rules = ReviewSettings.load(request_or_site=request)
    form = ReviewForm(
        request.POST or None, request.FILES or None, max_photos=rules.max_photos
    )
    if request.method == "POST" and form.is_valid() and _submit(request, form, line):
        return render(request, "reviews/account/thanks.html", {"line": line})
    return render(
        request,
        "reviews/account/write.html",
        {"form": form, "line": line, "by_link": True, **_offer(line.order.customer)},
    )


@login_required
@never_cache
def mine(request):
    return render(
        request,
        "reviews/account/mine.html",
        {"reviews": list(reviews_of_user(request.user))},
    )


def _own(request, review_id: int):
    review = reviews_of_user(request.user).filter(pk=review_id).first()
    if review is None:
        raise Http404
    return review


@login_required
@never_cache
def edit(request, review_id: int):
    review = _own(request, review_id)
    rules = ReviewSettings.load(request_or_site=request)
    initial = {
        "rating": review.rating,
        "title": review.title,
        "body": review.body,
        "language": review.language,
        "may_quote": review.may_quote,
    }
    form = EditReviewForm(
        request.POST or None,
        request.FILES or None,
        initial=initial,
        review=review,
        max_photos=rules.max_photos,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.edit_review(
                review=review,
                customer=review.customer,
                rating=data["rating"],
                title=data["title"],
                body=data["body"],
                language=data["language"],
                may_quote=data["may_quote"],
                photos=data["photos"],
                remove_photo_ids=[int(pk) for pk in data["remove_photos"]],
            )
        except services.InvalidPhoto as exc:
            form.add_error("photos", str(exc))
        except services.ReviewError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                _("Your review has been changed and is waiting for moderation."),
            )
            return redirect("reviews:mine")
    return render(
        request, "reviews/account/edit.html", {"form": form, "review": review}
    )


@login_required
@require_POST
def withdraw(request, review_id: int):
    review = _own(request, review_id)
    try:
        services.withdraw_review(review=review, customer=review.customer)
    except services.ReviewError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Your review has been deleted."))
    return redirect("reviews:mine")
