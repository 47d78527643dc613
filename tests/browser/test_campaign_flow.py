"""Marketing creates a post-purchase campaign in the Wagtail admin, previews it for a
real customer and order, and activates it; after the scheduler runs, the e-mail with
the product's featured reviews sits in the outbox."""

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import expect

from campaigns import services
from campaigns.models import Campaign
from emails import rendering
from emails.models import Message
from reviews.models import Review, ReviewStatus
from tests.campaigns.admin_setup import PASSWORD, marketer
from tests.factories import (
    CustomerFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def site(settings):
    settings.ALLOWED_HOSTS = ["*"]
    cache.clear()


def glowing_review(product, title):
    Review.objects.create(
        order_line=OrderLineFactory(product=product),
        customer=CustomerFactory(),
        product=product,
        rating=5,
        title=title,
        body="Warm without being heavy, and it washes well.",
        language="en",
        status=ReviewStatus.APPROVED,
        may_quote=True,
        approved_at=timezone.now() - timedelta(days=20),
    )


@pytest.fixture
def wide_page(browser, live_server):
    """The edit form with its minimap needs more than 1280 pixels, or the main
    column scrolls sideways under the clicks."""
    context = browser.new_context(
        base_url=live_server.url,
        locale="en-GB",
        viewport={"width": 1600, "height": 900},
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_marketing_creates_previews_and_activates_a_post_purchase_campaign(
    wide_page, site
):
    page = wide_page
    # given: Anna (who accepts marketing e-mail) got her sweater three days ago; it
    # has a glowing review
    sweater = ProductFactory(sku="CLO-003", name="Merino Wool Sweater")
    glowing_review(sweater, "Warm and soft")
    anna = CustomerFactory(
        email="anna@example.com",
        first_name="Anna",
        language="en",
        marketing_consent=True,
    )
    delivered = timezone.now() - timedelta(days=3)
    order = OrderFactory(
        customer=anna,
        number="#5001",
        placed_at=delivered - timedelta(days=3),
        shipped_at=delivered - timedelta(days=2),
        delivered_at=delivered,
    )
    OrderLineFactory(order=order, product=sweater)
    marketer(username="mia", email="mia@example.com")

    # when: Mia signs in and creates a post-purchase campaign
    page.goto("/admin/login/")
    page.locator("input[name=username]").fill("mia")
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/admin/$"))
    page.goto("/admin/campaigns/")
    page.get_by_role("link", name="Add campaign").first.click()
    page.locator("#id_name").fill("After delivery: what others say")
    page.locator("#id_kind").select_option("post_purchase")
    page.locator("#id_delay_days").fill("3")
    page.locator("#id_window_start").fill("00:00")
    page.locator("#id_window_end").fill("23:59")
    page.locator("#id_holdout_percent").fill("0")
    # the live count answers while she types (Anna's order is due)
    expect(page.get_by_test_id("audience-count")).to_have_text(
        "1 customer in the audience"
    )
    page.get_by_role("button", name="Save").first.click()

    # then: the campaign is saved as a draft with its live audience count
    expect(page.get_by_test_id("campaign-status")).to_have_text("Draft")
    expect(page.get_by_test_id("audience-count")).to_contain_text("in the audience")
    campaign = Campaign.objects.get()

    # when: she adds its English content with the featured reviews, inline in the
    # campaign's form
    page.get_by_role("tab", name="Content").click()
    page.locator("#id_contents-ADD").click()
    page.locator("#id_contents-0-language").select_option("en")
    page.locator("#id_contents-0-subject").fill("How is your sweater?")
    page.locator("#id_contents-FORMS").get_by_title("Insert a block").first.click()
    page.get_by_role("option", name=re.compile("Featured reviews")).click()
    page.get_by_role("button", name="Save").first.click()

    # then: she is back on the campaign, whose form holds the content
    expect(page.get_by_test_id("campaign-status")).to_have_text("Draft")
    expect(page.locator("#id_contents-0-subject")).to_have_value("How is your sweater?")
    content = campaign.contents.get()
    assert content.subject == "How is your sweater?"
    assert [block.block_type for block in content.body] == ["featured_reviews"]

    # when: she previews it for Anna's order
    page.get_by_test_id("preview-link").click()
    page.get_by_label("Customer's e-mail address").fill("anna@example.com")
    page.get_by_label("Order number").fill("#5001")
    page.get_by_test_id("show-preview").click()

    # then: the real featured review of the sweater is in the rendered e-mail
    frame = page.frame_locator("[data-testid=preview-frame]")
    expect(frame.get_by_text("Warm and soft")).to_be_visible()

    # when: she goes back and activates it
    page.get_by_role("link", name="Back to the campaign").click()
    page.get_by_test_id("action-activate").click()
    expect(page.get_by_text("The campaign is active.")).to_be_visible()
    expect(page.get_by_test_id("campaign-status")).to_have_text("Active")

    # and the scheduler runs
    services.schedule_due()

    # then: Anna's e-mail with the featured reviews sits in the outbox
    message = Message.objects.get(customer=anna)
    assert message.key == f"campaign:{campaign.pk}:{order.pk}"
    as_sent = rendering.render(message).filled()
    assert as_sent.subject == "How is your sweater?"
    assert "Warm and soft" in as_sent.html
