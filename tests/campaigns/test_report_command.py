"""`manage.py campaign_report ID` prints the delivery figures and the comparison."""

import pytest
from django.core.management import CommandError, call_command

from campaigns.models import Group
from tests.campaigns.core_setup import make_campaign
from tests.campaigns.test_analysis import _plant

pytestmark = pytest.mark.django_db


def test_the_report_prints_the_difference_and_its_interval(capsys):
    campaign = make_campaign(holdout_percent=10)
    _plant(campaign, group=Group.TREATMENT, n=900, returned=90)
    _plant(campaign, group=Group.HOLDOUT, n=150, returned=30)

    call_command("campaign_report", str(campaign.pk))

    out = capsys.readouterr().out
    assert f"Campaign {campaign.pk}: After delivery (post_purchase, active)" in out
    assert "E-mails: sent 0, delivered 0, opened 0" in out
    assert (
        "Variant A Return rate: treated 10.0% (90/900), holdout 20.0% (30/150), "
        "difference -10.0 pp, 95% CI [-17.3 pp, -4.0 pp]"
    ) in out
    assert "Variant A Review rate: treated 0.0% (0/900)" in out


def test_an_unknown_campaign_is_an_error():
    with pytest.raises(CommandError):
        call_command("campaign_report", "999999")
