"""The one-question satisfaction score after a return, from the e-mail's signed links.

The link carries the score the customer clicked; the page shows it chosen and records
it when the form is sent (a POST, so mail scanners that open links record nothing).
The page is in the customer's language and never cached (it holds a form)."""

from django.http import Http404
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.cache import never_cache

from returns import links, services


@never_cache
def satisfaction(request, token: str):
    try:
        return_request, score = links.satisfaction_for_token(token)
    except links.InvalidStatusLink as exc:
        raise Http404 from exc
    owner = return_request.customer.user_id
    if request.user.is_authenticated and owner is not None and owner != request.user.pk:
        raise Http404  # signed in as someone else, as on the status page
    recorded = False
    error = ""
    if request.method == "POST":
        try:
            score = int(request.POST.get("score", score))
        except ValueError:
            score = 0
        try:
            services.record_satisfaction(request=return_request, score=score)
            recorded = True
        except services.ReturnsError as exc:
            error = exc.message
    with translation.override(return_request.customer.language):
        request.LANGUAGE_CODE = translation.get_language()
        return render(
            request,
            "returns/satisfaction.html",
            {
                "return_request": return_request,
                "score": score,
                "scores": range(1, 6),
                "recorded": recorded,
                "error": error,
            },
        )
