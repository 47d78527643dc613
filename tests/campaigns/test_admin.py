"""The campaigns admin over HTTP: the listing with its key figures and filters, create
and edit (panels, with the variants and the content per language inline), the live audience count, the
activate / pause / resume / finish buttons, and the permissions."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone
from wagtail.test.utils.form_data import streamfield

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


def edit_page_content(campaign):
    """The saved English content as the edit form sends it back."""
    return edit_page_content_of(campaign.contents.get())


def edit_page_content_of(content):
    return {
        "id": str(content.pk),
        "language": content.language,
        "variant_code": content.variant_code,
        "subject": content.subject,
    }


VARIANT_B = {
    "code": "B",
    "name": "Most helpful",
    "weight": "1",
    "review_selection": "most_helpful",
}
VARIANT_A = VARIANT_B | {
    "code": "A",
    "name": "Top rated",
    "review_selection": "top_rated",
}


def test_the_edit_form_shows_contents_and_variants_inline(marketing_client):
    campaign = make_campaign()
    CampaignVariant.objects.create(campaign=campaign, code="B", name="Most helpful")

    response = marketing_client.get(url("edit", campaign.pk))

    form = response.context["form"]
    assert [f.instance.subject for f in form.formsets["contents"].forms] == [
        "How is your order?"
    ]
    assert [f.instance.code for f in form.formsets["variants"].forms] == ["B"]
    text = response.content.decode()
    assert 'value="How is your order?"' in text
    assert "Content per language and variant" in text


def test_the_edit_form_saves_two_languages_and_two_variants(marketing_client):
    # given: a campaign with its English content
    campaign = make_campaign()

    # when: marketing adds a Dutch content for variant B and two variants
    response = post_form(
        marketing_client,
        url("edit", campaign.pk),
        contents=[
            edit_page_content(campaign),
            {
                "language": "nl",
                "variant_code": "B",
                "subject": "Hoe bevalt je bestelling?",
                "body": streamfield(
                    [
                        ("heading", "Anderen vinden het ook mooi"),
                        ("featured_reviews", {"heading": "Reviews", "fallback": ""}),
                    ]
                ),
            },
        ],
        saved_contents=1,
        variants=[VARIANT_A, VARIANT_B],
    )

    # then: every row is saved with the campaign
    assert response.status_code == 302
    assert sorted(
        campaign.contents.values_list("language", "variant_code", "subject")
    ) == [
        ("en", "", "How is your order?"),
        ("nl", "B", "Hoe bevalt je bestelling?"),
    ]
    dutch = campaign.contents.get(language="nl")
    assert [block.block_type for block in dutch.body] == [
        "heading",
        "featured_reviews",
    ]
    assert sorted(
        campaign.variants.values_list("code", "name", "weight", "review_selection")
    ) == [
        ("A", "Top rated", 1, "top_rated"),
        ("B", "Most helpful", 1, "most_helpful"),
    ]


def test_the_edit_form_changes_and_deletes_inline_rows(marketing_client):
    campaign = make_campaign()
    variant = CampaignVariant.objects.create(campaign=campaign, code="B", weight=1)
    saved_variant = {"id": str(variant.pk), **VARIANT_B, "weight": "3"}

    response = post_form(
        marketing_client,
        url("edit", campaign.pk),
        contents=[edit_page_content(campaign) | {"subject": "Still happy?"}],
        saved_contents=1,
        variants=[saved_variant, VARIANT_A | {"DELETE": "1"}],
        saved_variants=1,
    )

    assert response.status_code == 302
    assert list(campaign.contents.values_list("subject", flat=True)) == ["Still happy?"]
    assert list(campaign.variants.values_list("code", "weight")) == [("B", 3)]


def inline_errors(response, formset: str) -> list[dict]:
    return [
        dict(form.errors)
        for form in response.context["form"].formsets[formset].forms
        if form.errors
    ]


@pytest.mark.parametrize(
    ("change", "formset", "errors"),
    [
        (
            {"variants": [VARIANT_A, VARIANT_B, VARIANT_B | {"name": "Again"}]},
            "variants",
            [{"code": ["Another variant already has this code."]}],
        ),
        (
            {"variants": [VARIANT_A | {"code": "b"}]},
            "variants",
            [{"code": ["One or two capital letters or digits."]}],
        ),
        (
            {"variants": [VARIANT_A | {"weight": "0"}]},
            "variants",
            [{"weight": ["Ensure this value is greater than or equal to 1."]}],
        ),
        (
            {
                "contents": [
                    {"language": "nl", "subject": "Hallo"},
                    {"language": "nl", "subject": "Nog eens"},
                ]
            },
            "contents",
            [{"language": ["This language already has a content for this variant."]}],
        ),
        (
            {
                "variants": [VARIANT_A],
                "contents": [{"language": "nl", "variant_code": "B", "subject": "Hoi"}],
            },
            "contents",
            [
                {
                    "variant_code": [
                        "No variant has the code B: add it under Variants, or "
                        "leave this empty for every variant."
                    ]
                }
            ],
        ),
        (
            {"contents": [{"language": "nl", "subject": ""}]},
            "contents",
            [{"subject": ["This field is required."]}],
        ),
    ],
)
def test_the_edit_form_names_the_inline_field_in_error_and_saves_nothing(
    marketing_client, change, formset, errors
):
    campaign = make_campaign(name="Before")
    before = campaign.updated_at

    response = post_form(
        marketing_client, url("edit", campaign.pk), name="After", **change
    )

    assert response.status_code == 200
    assert inline_errors(response, formset) == errors
    campaign.refresh_from_db()
    assert (campaign.name, campaign.updated_at) == ("Before", before)
    assert list(campaign.contents.values_list("language", "subject")) == [
        ("en", "How is your order?")
    ]
    assert not campaign.variants.exists()


def test_a_variant_in_use_by_a_content_cannot_be_deleted_alone(marketing_client):
    campaign = make_campaign()
    variant = CampaignVariant.objects.create(campaign=campaign, code="B")
    own = CampaignContent.objects.create(
        campaign=campaign, variant_code="B", language="en", subject="B!"
    )

    response = post_form(
        marketing_client,
        url("edit", campaign.pk),
        contents=[
            edit_page_content_of(campaign.contents.exclude(pk=own.pk).get()),
            edit_page_content_of(own),
        ],
        saved_contents=2,
        variants=[{"id": str(variant.pk), **VARIANT_B, "DELETE": "1"}],
        saved_variants=1,
    )

    assert response.status_code == 200
    assert "variant_code" in inline_errors(response, "contents")[0]
    assert campaign.variants.filter(pk=variant.pk).exists()


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
