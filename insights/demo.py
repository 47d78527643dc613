"""Demo insights, run by `seed_demo` after the returns' demo data: compute every
customer's figures, serial-returner flag and persona (so the demo shows the serial
returners returns' demo planted and a spread of personas), and record one fix on the
top product to fix, dated a month ago, so "before / after" has something to show.

Idempotent: the computation gives the same answer on a second run, and the fix is
recorded only when the demo has none.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from insights.models import CustomerInsight, ProductFix
from insights.queries import products_to_fix
from insights.services import compute_insights, mark_fixed
from returns.models import FixArea

DEMO_FIX_NOTE = "Demo: clearer size guide and new photos."


def seed_demo() -> dict[str, int]:
    before = (CustomerInsight.objects.count(), ProductFix.objects.count())
    compute_insights()
    if not ProductFix.objects.filter(note=DEMO_FIX_NOTE).exists():
        top = products_to_fix(start=None, end=None, limit=1)
        if top:
            mark_fixed(
                product=top[0].product,
                fixed_on=timezone.localdate() - timedelta(days=30),
                area=top[0].fix_area
                if top[0].fix_area != FixArea.NONE
                else FixArea.DESCRIPTION,
                note=DEMO_FIX_NOTE,
                by=get_user_model().objects.filter(username="returns").first(),
            )
    return {
        "customer insights": CustomerInsight.objects.count() - before[0],
        "product fixes": ProductFix.objects.count() - before[1],
    }
