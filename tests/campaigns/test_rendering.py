"""What the recipient reads: the real featured reviews with the product's real average
and count, the incentive note, the fallback, content per language and variant; and
the bulk data fetched per batch, not per recipient."""

import datetime as dt

import pytest
from django.core import mail
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns import rendering, services
from campaigns.models import CampaignContent, CampaignVariant, ReviewSelection
from emails import services as email_services
from emails.models import Message
from tests.campaigns.core_setup import delivered_order, make_campaign, make_review
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def boots():
    product = ProductFactory(
        name="Walking boots", product_url="https://shop.example.com/boots"
    )
    make_review(product=product, rating=5, title="Best boots ever", rewarded=True)
    make_review(product=product, rating=4, title="Comfortable", helpful_count=9)
    make_review(product=product, rating=1, title="Fell apart")  # counted, not quoted
    make_review(product=product, rating=5, title="Private", may_quote=False)
    return product


def test_preview_shows_the_real_reviews_beside_the_real_average_and_count(boots):
    campaign = make_campaign()
    order = delivered_order(delivered_at=timezone.now(), products=[boots])

    rendered = services.preview(campaign=campaign, customer=order.customer, order=order)

    assert rendered.subject == "Your order [en]"
    assert "Best boots ever" in rendered.html and "Comfortable" in rendered.html
    assert "Fell apart" not in rendered.html and "Private" not in rendered.html
    # (5 + 4 + 1 + 5) / 4 = 3.75 → 3.8, over all four approved reviews.
    assert "3.8 out of 5, from 4 reviews" in rendered.html
    assert "3.8 out of 5, from 4 reviews" in rendered.text
    assert rendered.html.count("Received points for this review") == 1
    assert "Hello Anna," in rendered.text
    assert "-cmp_" not in rendered.html + rendered.text
    assert "/unsubscribe/" in rendered.html or "unsubscribe" in rendered.html
    assert "utm_campaign=campaign" in rendered.html


def test_a_product_without_quotable_reviews_gets_the_fallback_block():
    campaign = make_campaign()
    product = ProductFactory(name="Socks")
    order = delivered_order(delivered_at=timezone.now(), products=[product])

    rendered = services.preview(campaign=campaign, customer=order.customer, order=order)

    assert "No reviews yet!" in rendered.html
    assert "Socks" in rendered.text


def test_content_per_language_and_per_variant(boots):
    campaign = make_campaign()
    CampaignVariant.objects.create(
        campaign=campaign, code="B", review_selection=ReviewSelection.MOST_HELPFUL
    )
    CampaignContent.objects.create(
        campaign=campaign, variant_code="B", language="en", subject="Variant B", body=[]
    )
    order = delivered_order(delivered_at=timezone.now(), products=[boots])

    dutch = services.preview(
        campaign=campaign, customer=order.customer, order=order, language="nl"
    )
    variant = services.preview(
        campaign=campaign, customer=order.customer, order=order, variant="B"
    )

    assert dutch.subject == "Your order [nl]"
    assert variant.subject == "Variant B"


def test_most_helpful_selection_puts_the_helpful_review_first(boots):
    found = rendering.featured_for_products(
        {boots.pk}, language="en", selection=ReviewSelection.MOST_HELPFUL, limit=1
    )
    assert [r.title for r in found[boots.pk].reviews] == ["Comfortable"]
    assert (found[boots.pk].average, found[boots.pk].count) == (
        rendering.Decimal("3.8"),
        4,
    )


@override_settings(CAMPAIGNS_QUIET_HOURS="00:00-00:00")
def test_queries_per_batch_do_not_grow_with_recipients():
    campaign = make_campaign(holdout_percent=0)
    products = [ProductFactory() for _ in range(5)]
    for product in products:
        make_review(product=product, rating=5)
    delivered = timezone.now() - dt.timedelta(days=campaign.delay_days + 1)

    def run(n):
        for i in range(n):
            delivered_order(
                delivered_at=delivered, products=products[i % 5 : i % 5 + 2]
            )
        with CaptureQueriesContext(connection) as queries:
            services.schedule_due()
        return len(queries)

    run(2)  # first-use rows (brand settings) out of the way
    few, many = run(5), run(40)
    assert many == few
    assert Message.objects.count() == 47


@override_settings(CAMPAIGNS_QUIET_HOURS="00:00-00:00")
def test_the_sent_email_has_the_recipients_reviews_filled_in(boots):
    campaign = make_campaign(holdout_percent=0)
    delivered_order(
        delivered_at=timezone.now() - dt.timedelta(days=campaign.delay_days + 1),
        products=[boots],
    )
    services.schedule_due()

    email_services.send_due_messages()

    [sent] = mail.outbox
    html = sent.alternatives[0][0]
    assert "Best boots ever" in html and "3.8 out of 5" in html
    assert "-cmp_" not in html + sent.body
    assert sent.extra_headers["List-Unsubscribe"].startswith("<http")


@override_settings(CAMPAIGNS_QUIET_HOURS="00:00-00:00")
def test_content_too_big_for_substitutions_is_filled_in_at_enqueue(boots, monkeypatch):
    monkeypatch.setattr(rendering, "SUBSTITUTION_BUDGET", 10)
    campaign = make_campaign(holdout_percent=0)
    delivered_order(
        delivered_at=timezone.now() - dt.timedelta(days=campaign.delay_days + 1),
        products=[boots],
    )

    services.schedule_due()

    message = Message.objects.get()
    assert "substitutions" not in message.context
    assert "Best boots ever" in message.html
    email_services.send_due_messages()
    assert "Best boots ever" in mail.outbox[0].alternatives[0][0]


@override_settings(CAMPAIGNS_QUIET_HOURS="00:00-00:00")
def test_a_name_with_markup_is_escaped_in_the_html_part(boots):
    campaign = make_campaign(holdout_percent=0)
    delivered_order(
        delivered_at=timezone.now() - dt.timedelta(days=campaign.delay_days + 1),
        products=[boots],
        first_name='<img src="x">Bo',
    )
    services.schedule_due()

    email_services.send_due_messages()

    [sent] = mail.outbox
    html = sent.alternatives[0][0]
    assert "Hello &lt;img src=&quot;x&quot;&gt;Bo," in html
    assert "<img src" not in html
    assert 'Hello <img src="x">Bo,' in sent.body  # the text part is plain text


@override_settings(CAMPAIGNS_QUIET_HOURS="00:00-00:00")
def test_each_block_is_stored_once_for_all_recipients(boots):
    from emails.models import SharedPart

    campaign = make_campaign(holdout_percent=0)
    delivered = timezone.now() - dt.timedelta(days=campaign.delay_days + 1)
    for _ in range(6):
        delivered_order(delivered_at=delivered, products=[boots], language="en")

    services.schedule_due()

    messages = list(Message.objects.all())
    assert len(messages) == 6
    # No row holds a copy of the shell or of the boots' reviews ...
    assert all(m.html == "" and "Best boots" not in str(m.context) for m in messages)
    # ... the shell (HTML, text) and the boots' block (HTML, text) are stored once.
    assert SharedPart.objects.count() == 4
    assert sum("Best boots ever" in p.content for p in SharedPart.objects.all()) == 2
    email_services.send_due_messages()
    assert len(mail.outbox) == 6
    assert all("Best boots ever" in m.alternatives[0][0] for m in mail.outbox)
