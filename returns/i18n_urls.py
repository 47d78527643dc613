"""returns URLs under the language prefix (/nl/…): the customer's pages."""

from django.urls import path

from returns import views

app_name = "returns"

# The portal lives under /my-returns/: /returns/… is the return-policy pages' tree in
# Wagtail, except the QR code's /returns/start/ that cms reserved for the portal.
urlpatterns = [
    path("my-returns/", views.portal, name="portal"),
    # The QR code on the parcel's insert (cms.return_links): printed on paper, so
    # this path never changes.
    path("returns/start/<str:token>/", views.start_from_link, name="start-from-link"),
    path("my-returns/orders/<int:order_id>/", views.choose, name="choose"),
    path("my-returns/orders/<int:order_id>/confirm/", views.confirm, name="confirm"),
    path("my-returns/r/<str:token>/", views.status, name="status"),
    path("my-returns/r/<str:token>/done/", views.done, name="done"),
    path("my-returns/r/<str:token>/slip.pdf", views.slip, name="slip"),
    path("my-returns/r/<str:token>/cancel/", views.cancel, name="cancel"),
]
