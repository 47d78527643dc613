"""The campaigns admin over HTTP: the listing with its key figures and filters, create
and edit (panels, variants, content per language), the live audience count, the
activate / pause / resume / finish buttons, and the permissions."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from django.utils import timezone
from wagtail.test.utils.form_data import nested_form_data, streamfield

from campaigns import services
from campaigns.models import (
    Campaign,
    CampaignContent,
    CampaignEvent,
    CampaignStatus,
    CampaignVariant,
)
from returns.models import ReturnStatus
from tests.campaigns.admin_setup import (
    assign,
    marketer,
    outsider,
    post_form,
    url,
)
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor(db):
    return marketer()


@pytest.fixture
def marketing_client(client, editor):
    client.force_login(editor)
    return client


@pytest.fixture
def outsider_client(client, db):
    client.force_login(outsider())
    return client


def make_campaign(**fields) -> Campaign:
    values = {"name": "Post-purchase reviews", "kind": "post_purchase"}
    campaign = Campaign.objects.create(**(values | fields))
    CampaignContent.objects.create(
        campaign=campaign, language="en", subject="How is your order?"
    )
    return campaign


# The listing -----------------------------------------------------------------------


def test_the_list_shows_each_campaign_with_its_status(marketing_client):
    make_campaign(name="Thank you mail")
    make_campaign(name="Spring sale", kind="promotion")

    response = marketing_client.get(url("list"))

    text = response.content.decode()
    assert response.status_code == 200
    assert "Thank you mail" in text and "Spring sale" in text
    assert "Draft" in text


@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ({"kind": "promotion"}, "Spring sale", "Thank you mail"),
        ({"status": "active"}, "Thank you mail", "Spring sale"),
    ],
)
def test_the_list_filters_by_kind_and_status(marketing_client, query, shown, hidden):
    make_campaign(name="Thank you mail", status=CampaignStatus.ACTIVE)
    make_campaign(name="Spring sale", kind="promotion")

    text = marketing_client.get(url("list"), query).content.decode()

    assert shown in text
    assert hidden not in text


def test_the_list_shows_sent_and_the_return_rate_against_the_holdout(
    marketing_client,
):
    trigger = make_campaign(name="Thank you mail", status=CampaignStatus.ACTIVE)
    for index in range(4):  # 1 of 4 returned; 3 e-mails went out
        assign(
            trigger,
            group="treatment",
            returned=ReturnStatus.APPROVED if index == 0 else None,
            mail={"delivered"} if index < 3 else None,
        )
    assign(trigger, group="holdout", returned=ReturnStatus.APPROVED)
    assign(trigger, group="holdout")  # 1 of 2 returned
    make_campaign(name="Spring sale", kind="promotion")

    response = marketing_client.get(url("list"))

    figures = {c.name: c.list_figures for c in response.context["object_list"]}
    assert figures["Thank you mail"].sent == 3
    assert figures["Thank you mail"].return_rate_difference == pytest.approx(-0.25)
    assert figures["Spring sale"].sent == 0
    assert figures["Spring sale"].return_rate_difference is None
    text = response.content.decode()
    assert "-25.0\u00a0%" in text


def test_the_list_costs_the_same_queries_for_one_or_many_campaigns(
    marketing_client, django_assert_max_num_queries
):
    first = make_campaign(status=CampaignStatus.ACTIVE)
    assign(first, group="treatment", mail={"delivered"})
    marketing_client.get(url("list"))  # warm caches (session, user)
    with django_assert_max_num_queries(30) as one:
        marketing_client.get(url("list"))

    for number in range(5):
        campaign = make_campaign(name=f"Campaign {number}", status="active")
        assign(campaign, group="treatment", mail={"opened"})
        assign(campaign, group="holdout", returned=ReturnStatus.APPROVED)
    with django_assert_max_num_queries(len(one)):
        response = marketing_client.get(url("list"))

    assert len(response.context["object_list"]) == 6


# Create and edit ------------------------------------------------------------------------


def test_create_refuses_invalid_values_naming_the_fields(marketing_client):
    response = post_form(
        marketing_client,
        url("add"),
        name="",
        window_start="20:00",
        window_end="09:00",
        holdout_percent="80",
    )

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) == {"name", "window_end", "holdout_percent"}
    assert "This field is required." in errors["name"]
    assert "The window must end after it starts (same day)." in errors["window_end"]
    assert not Campaign.objects.exists()


def test_create_saves_the_campaign_and_opens_its_page(marketing_client, editor):
    response = post_form(marketing_client, url("add"))

    campaign = Campaign.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("edit", campaign.pk)
    assert (campaign.name, campaign.kind, campaign.status, campaign.created_by) == (
        "After delivery: what others say",
        "post_purchase",
        "draft",
        editor,
    )


def part_url(kind: str, name: str, *args) -> str:
    return reverse(f"campaign_{kind}:{name}", args=args)


def content_data(campaign, *, language="nl", variant="", subject="Hallo"):
    return nested_form_data(
        {
            "campaign": str(campaign.pk),
            "language": language,
            "variant": variant,
            "subject": subject,
            "preheader": "",
            "body": streamfield(
                [
                    ("heading", "Anderen vinden het ook mooi"),
                    ("featured_reviews", {"heading": "Reviews", "fallback": ""}),
                ]
            ),
        }
    )


def test_a_content_per_language_is_added_from_the_campaigns_page(marketing_client):
    campaign = make_campaign()
    page = marketing_client.get(url("edit", campaign.pk))
    add = page.context["add_content_url"]
    assert add == part_url("contents", "add") + f"?campaign={campaign.pk}"
    assert marketing_client.get(add).status_code == 200

    response = marketing_client.post(add, content_data(campaign))

    assert response.status_code == 302
    assert response["Location"] == url("edit", campaign.pk)
    assert sorted(campaign.contents.values_list("language", "subject")) == [
        ("en", "How is your order?"),
        ("nl", "Hallo"),
    ]
    content = campaign.contents.get(language="nl")
    assert [block.block_type for block in content.body] == [
        "heading",
        "featured_reviews",
    ]
    listed = marketing_client.get(url("edit", campaign.pk)).content.decode()
    assert "Hallo" in listed


def test_a_second_content_for_the_same_language_is_refused(marketing_client):
    campaign = make_campaign()

    response = marketing_client.post(
        part_url("contents", "add"), content_data(campaign, language="en")
    )

    assert response.status_code == 200
    assert response.context["form"].errors["language"] == [
        "This language already has a content for this variant."
    ]
    assert campaign.contents.count() == 1


def test_a_variant_gets_its_own_content(marketing_client):
    campaign = make_campaign()
    response = marketing_client.post(
        part_url("variants", "add"),
        {
            "campaign": str(campaign.pk),
            "code": "B",
            "name": "Most helpful",
            "weight": "1",
            "review_selection": "most_helpful",
        },
    )
    assert response.status_code == 302
    variant = campaign.variants.get()

    marketing_client.post(
        part_url("contents", "add"),
        content_data(campaign, language="en", variant=str(variant.pk), subject="B!"),
    )

    assert set(
        campaign.contents.values_list("language", "variant__code", "subject")
    ) == {("en", None, "How is your order?"), ("en", "B", "B!")}


def test_a_variant_code_is_unique_per_campaign(marketing_client):
    campaign = make_campaign()
    CampaignVariant.objects.create(campaign=campaign, code="B")

    response = marketing_client.post(
        part_url("variants", "add"),
        {
            "campaign": str(campaign.pk),
            "code": "B",
            "weight": "1",
            "review_selection": "top_rated",
        },
    )

    assert response.status_code == 200
    assert response.context["form"].errors["code"] == [
        "This campaign already has this variant."
    ]


def test_a_content_cannot_use_another_campaigns_variant(marketing_client):
    campaign = make_campaign()
    foreign = CampaignVariant.objects.create(campaign=make_campaign(), code="B")

    response = marketing_client.post(
        part_url("contents", "add"),
        content_data(campaign, variant=str(foreign.pk)),
    )

    assert response.status_code == 200
    assert "variant" in response.context["form"].errors
    assert campaign.contents.count() == 1


# Live audience count -----------------------------------------------------------------


def test_the_edit_page_shows_the_audience_count(marketing_client):
    CustomerFactory.create_batch(2, marketing_consent=True, language="nl")
    campaign = make_campaign(kind="promotion")
    expected = services.audience_count(campaign)

    response = marketing_client.get(url("edit", campaign.pk))

    assert response.context["audience_count"] == expected
    assert response.context["audience_label"] in response.content.decode()


def test_the_live_count_follows_the_unsaved_rules(marketing_client):
    CustomerFactory.create_batch(3, marketing_consent=True, language="nl")
    CustomerFactory.create_batch(2, marketing_consent=True, language="en")
    campaign = make_campaign(kind="promotion")
    dutch = Campaign(kind="promotion", languages=["nl"])

    response = marketing_client.post(
        url("audience_count", campaign.pk),
        {"kind": "promotion", "languages": ["nl"]},
    )

    assert response.status_code == 200
    count = services.audience_count(dutch)
    assert json.loads(response.content) == {
        "count": count,
        "label": f"{count} customers in the audience",
    }
    campaign.refresh_from_db()
    assert campaign.languages == []


def test_the_live_count_works_before_the_first_save(marketing_client):
    CustomerFactory.create_batch(2, marketing_consent=True, language="en")

    response = marketing_client.post(
        url("audience_count_new"), {"kind": "promotion", "languages": ["en"]}
    )

    count = services.audience_count(Campaign(kind="promotion", languages=["en"]))
    assert json.loads(response.content)["count"] == count
    assert not Campaign.objects.exists()


def test_the_live_count_names_an_invalid_rule(marketing_client):
    response = marketing_client.post(
        url("audience_count_new"), {"kind": "promotion", "ordered_within_days": "x"}
    )

    assert response.status_code == 400
    assert json.loads(response.content) == {
        "errors": [{"path": "ordered_within_days", "message": "Enter a whole number."}]
    }


# Activate, pause, resume, finish ------------------------------------------------------


def status_of(campaign) -> str:
    campaign.refresh_from_db()
    return campaign.status


def test_the_edit_page_offers_the_moves_of_the_current_status(marketing_client):
    campaign = make_campaign()

    context = marketing_client.get(url("edit", campaign.pk)).context

    assert [slug for slug, _label, _url in context["actions"]] == [
        "activate",
        "finish",
    ]


def test_activate_pause_and_resume(marketing_client, editor):
    campaign = make_campaign()

    activated = marketing_client.post(url("transition", campaign.pk, "activate"))
    assert activated.status_code == 302
    assert status_of(campaign) == "active"

    marketing_client.post(url("transition", campaign.pk, "pause"))
    assert status_of(campaign) == "paused"
    page = marketing_client.get(url("edit", campaign.pk))
    assert [slug for slug, *_rest in page.context["actions"]] == ["resume", "finish"]

    marketing_client.post(url("transition", campaign.pk, "resume"))
    assert status_of(campaign) == "active"
    assert list(
        CampaignEvent.objects.filter(campaign=campaign).values_list(
            "from_status", "to_status", "by"
        )
    ) == [
        ("draft", "active", editor.pk),
        ("active", "paused", editor.pk),
        ("paused", "active", editor.pk),
    ]


def test_an_illegal_move_is_refused_and_changes_nothing(marketing_client):
    campaign = make_campaign()
    services.activate(campaign=campaign, by=None)
    services.finish(campaign=campaign, by=None)
    events = CampaignEvent.objects.count()

    response = marketing_client.post(
        url("transition", campaign.pk, "resume"), follow=True
    )

    assert status_of(campaign) == "finished"
    assert CampaignEvent.objects.count() == events
    shown = [str(message) for message in response.context["messages"]]
    assert len(shown) == 1 and shown[0]  # the service's own explanation


def test_a_move_needs_post(marketing_client):
    campaign = make_campaign()

    response = marketing_client.get(url("transition", campaign.pk, "activate"))

    assert response.status_code == 405
    assert status_of(campaign) == "draft"


# Permissions --------------------------------------------------------------------------


def every_url(campaign):
    return [
        ("get", url("list")),
        ("get", url("add")),
        ("post", url("add")),
        ("get", url("edit", campaign.pk)),
        ("post", url("edit", campaign.pk)),
        ("get", url("history", campaign.pk)),
        ("post", url("delete", campaign.pk)),
        ("get", url("audience_count", campaign.pk)),
        ("post", url("audience_count_new")),
        ("post", url("transition", campaign.pk, "activate")),
        ("get", url("preview", campaign.pk)),
        ("post", url("preview", campaign.pk)),
        ("get", url("results", campaign.pk)),
        ("get", part_url("contents", "list")),
        ("get", part_url("contents", "add")),
        ("post", part_url("contents", "add")),
        ("get", part_url("contents", "edit", campaign.contents.get().pk)),
        ("get", part_url("variants", "list")),
        ("post", part_url("variants", "add")),
    ]


def test_everyone_outside_marketing_gets_403_everywhere(outsider_client):
    campaign = make_campaign()
    before = timezone.now()

    for method, target in every_url(campaign):
        response = getattr(outsider_client, method)(target)
        assert response.status_code == 403, (method, target)

    campaign.refresh_from_db()
    assert (campaign.status, campaign.name) == ("draft", "Post-purchase reviews")
    assert campaign.updated_at < before
    assert Campaign.objects.count() == 1


def test_marketing_cannot_delete_a_campaign(marketing_client):
    campaign = make_campaign()

    response = marketing_client.post(url("delete", campaign.pk))

    assert response.status_code == 302  # Wagtail's "no permission" redirect
    assert Campaign.objects.filter(pk=campaign.pk).exists()


def test_the_menu_shows_campaigns_to_marketing(marketing_client):
    assert url("list") in marketing_client.get("/admin/").content.decode()


def test_the_menu_hides_campaigns_from_everyone_else(outsider_client):
    response = outsider_client.get("/admin/")

    assert response.status_code == 200
    assert url("list") not in response.content.decode()


def test_each_row_links_to_its_results(marketing_client):
    campaign = make_campaign()

    text = marketing_client.get(url("list")).content.decode()

    assert url("results", campaign.pk) in text
