from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InsightsConfig(AppConfig):
    name = "insights"
    verbose_name = _("Returns insights")

    def ready(self):
        from insights import receivers
        from returns.services import register_approval_check

        # The check itself reads InsightsSettings.serial_needs_approval on each call
        # (settings live in the database, unreadable while apps load).
        register_approval_check(receivers.serial_returner_approval)
