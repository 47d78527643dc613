"""`manage.py campaign_report ID`: the campaign's delivery figures and, for trigger
campaigns, each variant's return and review rate against the holdout."""

from django.core.management.base import BaseCommand, CommandError

from campaigns import analysis
from campaigns.models import Campaign


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _pp(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:+.1f} pp"


class Command(BaseCommand):
    help = "Print a campaign's results: delivery figures and the holdout comparison."

    def add_arguments(self, parser):
        parser.add_argument("campaign_id", type=int)

    def handle(self, *args, campaign_id, **options):
        campaign = Campaign.objects.filter(pk=campaign_id).first()
        if campaign is None:
            raise CommandError(f"no campaign {campaign_id}")
        out = self.stdout
        out.write(
            f"Campaign {campaign.pk}: {campaign.name} ({campaign.kind}, "
            f"{campaign.status})"
        )
        figures = analysis.delivery_figures(campaign)
        out.write(
            "E-mails: "
            + ", ".join(
                f"{name} {figures[name]}"
                for name in (
                    "sent",
                    "delivered",
                    "opened",
                    "clicked",
                    "unsubscribed",
                    "bounced",
                    "queued",
                )
            )
        )
        if not campaign.is_trigger:
            return
        for result in analysis.holdout_comparison(campaign):
            for label, comparison in (
                ("Return rate", result.returns),
                ("Review rate", result.reviews),
            ):
                interval = (
                    "-"
                    if comparison.ci_low is None
                    else f"[{_pp(comparison.ci_low)}, {_pp(comparison.ci_high)}]"
                )
                out.write(
                    f"Variant {result.variant} {label}: treated "
                    f"{_pct(comparison.treated_rate)} "
                    f"({comparison.treated_hits}/{comparison.treated_n}), holdout "
                    f"{_pct(comparison.holdout_rate)} "
                    f"({comparison.holdout_hits}/{comparison.holdout_n}), difference "
                    f"{_pp(comparison.difference)}, 95% CI {interval}"
                )
