"""Load the deterministic demo data of every app; running it twice changes nothing.

Each project app may have a `demo.py` with `seed_demo() -> dict[str, int]` (how many rows
of each kind it created). They run in INSTALLED_APPS order, which follows the layers
(shop first), so an app's demo data can build on the apps below it; the shop does not
need to know the apps above it.
"""

from importlib import import_module
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils.module_loading import module_has_submodule


def project_demo_modules():
    for app_config in apps.get_app_configs():
        if Path(app_config.path).parent != Path(settings.BASE_DIR):
            continue  # Django, Wagtail and other installed packages
        if module_has_submodule(app_config.module, "demo"):
            yield app_config.label, import_module(f"{app_config.name}.demo")


class Command(BaseCommand):
    help = "Load the demo data (admin/admin and other well-known passwords: demo only)."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            self.stderr.write(
                self.style.WARNING(
                    "DEBUG is off. seed_demo creates users with well-known passwords "
                    "(admin/admin): never run it on a site others can reach."
                )
            )
        with transaction.atomic():
            for label, module in project_demo_modules():
                created = module.seed_demo()
                summary = ", ".join(
                    f"{count} {kind}" for kind, count in created.items()
                )
                self.stdout.write(f"{label}: created {summary or 'nothing'}")
        self.stdout.write(
            self.style.SUCCESS(
                "Demo data ready. Admin: admin / admin; "
                "customer: customer@example.com / customer."
            )
        )
