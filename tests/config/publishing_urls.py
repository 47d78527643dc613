"""The project's URLs plus two views for tests/config: one publishes a task while
serving a request, the way a view enqueues work (on commit), to follow a request id into
the worker; one renders an inline script with the request's CSP nonce."""

from celery import Celery
from django.db import transaction
from django.http import HttpResponse
from django.template import engines
from django.urls import path

from config.urls import urlpatterns as project_urlpatterns
from shop.tasks import purge_webhook_deliveries_task


def publish(request):
    broker = request.GET.get("broker")
    if broker:
        # The test process's own app is eager; this producer publishes to the Redis
        # the worker reads, through the same before_task_publish signal.
        producer = Celery(broker=broker, set_as_current=False)
        transaction.on_commit(
            lambda: producer.send_task("shop.tasks.purge_webhook_deliveries_task")
        )
    else:
        purge_webhook_deliveries_task.delay()
    return HttpResponse("published")


NONCE_PAGE = '<script nonce="{{ request.csp_nonce }}">document.title = "ok";</script>'


def nonce_page(request):
    template = engines["django"].from_string(NONCE_PAGE)
    return HttpResponse(template.render({}, request))


urlpatterns = [
    path("test-publish/", publish),
    path("test-nonce/", nonce_page),
    *project_urlpatterns,
]
