from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST


@csrf_exempt
@require_POST
def shopify(request):  # placeholder, replaced by the webhooks work
    return HttpResponse(status=401)


@csrf_exempt
@require_POST
def woocommerce(request):  # placeholder, replaced by the webhooks work
    return HttpResponse(status=401)
