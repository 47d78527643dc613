"""returns URLs without a language prefix: the returns API and the satisfaction
links of the e-mails."""

from django.urls import path

from returns import api, views_satisfaction

app_name = "returns-api"

urlpatterns = [
    path("api/v1/returns", api.ReturnListView.as_view(), name="list"),
    # Before returns/<rma>/… so that "export.csv" is never taken for an RMA.
    path("api/v1/returns/export.csv", api.ReturnExportView.as_view(), name="export"),
    path(
        "api/v1/returns/<str:rma>/events",
        api.ReturnEventsView.as_view(),
        name="events",
    ),
    path(
        "my-returns/satisfaction/<str:token>/",
        views_satisfaction.satisfaction,
        name="satisfaction",
    ),
]
