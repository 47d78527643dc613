from django.conf import settings
from django.conf.urls.i18n import i18n_patterns
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls

from config import health, metrics
from emails import webhooks as email_webhooks
from shop import webhooks

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("admin/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "api/v1/docs/",
        # The split view serves its start-up script as a file: no inline script (CSP).
        SpectacularSwaggerSplitView.as_view(url_name="api-schema"),
        name="api-docs",
    ),
    path("", include("cms.urls")),
    path("api/v1/", include("shop.api_urls")),
    path("api/v1/", include("loyalty.api_urls")),
    path("", include("reviews.urls")),
    path("", include("returns.urls")),
    path("", include("insights.urls")),
    path("webhooks/shopify/", webhooks.shopify, name="webhook-shopify"),
    path("webhooks/woocommerce/", webhooks.woocommerce, name="webhook-woocommerce"),
    path(
        "webhooks/sendgrid/events",
        email_webhooks.sendgrid_events,
        name="webhook-sendgrid-events",
    ),
    path("email/", include("emails.urls")),
]

urlpatterns += i18n_patterns(
    path("accounts/", include("allauth.urls")),
    path("", include("shop.urls")),
    path("", include("loyalty.urls")),
    path("", include("reviews.i18n_urls")),
    path("", include("returns.i18n_urls")),
    path("", include("cms.i18n_urls")),
    path("", include(wagtail_urls)),
    prefix_default_language=False,
)

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
