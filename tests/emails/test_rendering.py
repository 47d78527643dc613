"""Rendering: the layout, inlined CSS, a text part, the customer's language, the brand
and UTM-tagged links."""

import pytest

from emails import rendering
from emails.models import Category, EmailBrandSettings, EmailContentBlock, Message
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def message(**kwargs):
    values = {
        "key": "k",
        "to_email": "anna@example.com",
        "template": "test_message",
        "context": {"first_name": "Anna"},
        "sender_label": "campaign:7",
        "language": "en",
    }
    return Message(**(values | kwargs))


def test_renders_html_with_inlined_css_and_a_text_part():
    rendered = rendering.render(message())

    assert rendered.subject == "A test e-mail from Returnwise"
    assert 'class="button"' in rendered.html
    # the button's CSS is inlined on the element
    assert 'style="display: inline-block' in rendered.html
    assert "Hello Anna," in rendered.text
    assert "<" not in rendered.text.split("--")[0]


def test_links_to_the_site_carry_utm_parameters():
    rendered = rendering.render(message())

    url = "http://127.0.0.1:8000/?utm_source=email&utm_medium=email&utm_campaign=campaign%3A7"
    assert f'href="{url}"' in rendered.html
    assert url in rendered.text


def test_renders_in_the_customer_s_language():
    rendered = rendering.render(message(language="nl"))

    # (the Dutch catalogue is compiled from /tmp/i18n by the lead; the language is
    # what the templates were rendered under)
    assert '<html lang="nl">' in rendered.html


def test_the_brand_comes_from_the_site_setting():
    brand = EmailBrandSettings.load()
    brand.shop_name = "Lampenwinkel"
    brand.colour = "#123456"
    brand.footer_address = "Damrak 1, Amsterdam"
    brand.save()

    rendered = rendering.render(message())

    assert rendered.subject == "A test e-mail from Lampenwinkel"
    assert "#123456" in rendered.html
    assert "Damrak 1, Amsterdam" in rendered.html
    assert "Damrak 1, Amsterdam" in rendered.text


def test_marketing_mail_has_unsubscribe_links_filled_per_customer():
    customer = CustomerFactory(email="anna@example.com")
    rendered = rendering.render(message(category=Category.MARKETING, customer=customer))

    assert rendering.UNSUBSCRIBE_TAG in rendered.html
    filled = rendered.filled()
    token = rendering.unsubscribe_token(customer.pk)
    assert f"http://127.0.0.1:8000/email/unsubscribe/{token}/" in filled.html
    assert f"http://127.0.0.1:8000/email/unsubscribe/{token}/" in filled.text
    assert rendering.customer_for_token(token) == customer.pk


def test_ready_made_messages_are_sent_as_stored():
    rendered = rendering.render(
        message(template="", subject="S", text="T http://x.test/", html="<p>H</p>")
    )

    assert (rendered.subject, rendered.text, rendered.html) == (
        "S",
        "T http://x.test/",
        "<p>H</p>",
    )


def test_an_editors_content_block_renders_its_stream():
    from wagtail.models import Locale

    block = EmailContentBlock.objects.create(
        title="Thanks",
        slug="thanks",
        locale=Locale.get_default(),
        body=[
            ("heading", "Thank you"),
            ("paragraph", "<p>We hope you like it.</p>"),
            ("button", {"text": "Review it", "url": "https://shop.example/r"}),
        ],
    )

    html = str(block.body)

    assert "<h2>Thank you</h2>" in html
    assert "<p>We hope you like it.</p>" in html
    assert '<a class="button" href="https://shop.example/r">Review it</a>' in html


def test_customer_links_are_the_routes_own_urls():
    from django.urls import reverse

    links = rendering.customer_links(42)
    token = links[rendering.UNSUBSCRIBE_TAG].rstrip("/").rsplit("/", 1)[-1]

    assert rendering.customer_for_token(token) == 42
    assert links == {
        rendering.UNSUBSCRIBE_TAG: "http://127.0.0.1:8000"
        + reverse("emails:unsubscribe", args=[token]),
        rendering.PREFERENCES_TAG: "http://127.0.0.1:8000"
        + reverse("emails:preferences", args=[token]),
    }


def test_links_in_e_mails_sent_with_the_earlier_token_format_still_work():
    from django.core import signing

    earlier = signing.dumps(42, salt=rendering.UNSUBSCRIBE_SALT)

    assert rendering.customer_for_token(earlier) == 42
    assert rendering.customer_for_token(rendering.unsubscribe_token(42)) == 42
    for forged in ("42", "42:abc", earlier[:-2] + "xx", "43" + earlier[2:]):
        with pytest.raises(signing.BadSignature):
            rendering.customer_for_token(forged)
