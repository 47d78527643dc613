app_name = "api"

urlpatterns: list = []  # filled by shop/api.py
