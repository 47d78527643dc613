"""cms URLs under the language prefix (/nl/…). The return insert's QR link
(`/returns/start/<token>/`, see cms.return_links) is served by the returns portal."""

app_name = "cms"

urlpatterns = []
