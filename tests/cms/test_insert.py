"""The printed return insert and the signed link its QR code holds."""

from decimal import Decimal
from io import BytesIO
from urllib.parse import urlsplit

import pytest
import zxingcpp
from django.core import signing
from django.utils import timezone
from pypdf import PdfReader

from cms.return_links import (
    InvalidReturnLink,
    order_for_return_token,
    return_start_token,
)
from shop.services import create_api_token
from tests.cms.conftest import republish, translate
from tests.factories import (
    CategoryFactory,
    CustomerFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def token():
    return create_api_token(name="packing-station")[1]


@pytest.fixture
def clothing_policy(make_policy, dutch):
    clothing = CategoryFactory(name="Clothing")
    policy = make_policy(
        title="Clothing",
        categories=[clothing],
        summary="Return clothing within 30 days of delivery, free of charge.",
        remorse_shipping_payer="shop",
    )
    translate(
        policy,
        dutch,
        title="Kleding",
        summary="Retourneer kleding binnen 30 dagen na levering, gratis.",
    )
    return policy


@pytest.fixture
def order(clothing_policy):
    customer = CustomerFactory(email="sanne@example.com", language="nl")
    order = OrderFactory(
        external_id="5001",
        number="RW-5001",
        customer=customer,
        placed_at=timezone.now(),
    )
    shirt = ProductFactory(
        name="Linen Shirt", category=clothing_policy.applies_to_categories.get()
    )
    OrderLineFactory(order=order, product=shirt, unit_price=Decimal("49.95"))
    return order


def get_insert(client, token, external_id="5001", **params):
    return client.get(
        f"/orders/{external_id}/return-insert.pdf",
        params,
        HTTP_AUTHORIZATION=f"Token {token}" if token else "",
        HTTP_ACCEPT="application/pdf",
    )


def qr_links(pdf: bytes) -> list[str]:
    page = PdfReader(BytesIO(pdf)).pages[0]
    return [
        barcode.text
        for image in page.images
        for barcode in zxingcpp.read_barcodes(image.image)
    ]


def test_the_insert_is_an_a4_pdf_in_the_customers_language(client, token, order):
    response = get_insert(client, token)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Cache-Control"] == "private, no-store"
    reader = PdfReader(BytesIO(response.content))
    assert len(reader.pages) == 1
    width, height = reader.pages[0].mediabox.width, reader.pages[0].mediabox.height
    assert (round(width), round(height)) == (595, 842)  # A4 in points
    text = " ".join(reader.pages[0].extract_text().split())
    assert "Returnwise" in text
    assert "RW-5001" in text
    assert "Kleding" in text
    assert "Retourneer kleding binnen 30 dagen na levering, gratis." in text
    assert "Linen Shirt" in text


def test_the_qr_code_opens_the_returns_start_page_of_the_order(client, token, order):
    [link] = qr_links(get_insert(client, token).content)

    url = urlsplit(link)
    assert url.path.startswith("/nl/returns/start/")
    token_in_link = url.path.rstrip("/").rsplit("/", 1)[1]
    assert order_for_return_token(token_in_link) == order
    page = client.get(url.path)
    assert page.status_code == 200
    html = page.content.decode()
    assert "RW-5001" in html
    assert "Retourneer kleding binnen 30 dagen na levering, gratis." in html
    assert page["X-Robots-Tag"] == "noindex"
    assert "no-store" in page["Cache-Control"]


def test_the_insert_shows_the_rules_the_order_was_placed_under(
    client, token, order, clothing_policy
):
    republish(clothing_policy, summary="Return clothing within 14 days.")

    pdf = get_insert(client, token).content

    text = " ".join(PdfReader(BytesIO(pdf)).pages[0].extract_text().split())
    assert "14 days" not in text
    assert "Retourneer kleding binnen 30 dagen" in text


def test_without_a_token_it_is_401(client, order):
    response = get_insert(client, None)

    assert response.status_code == 401
    assert response.json()["errors"][0]["path"] == "$"


@pytest.mark.parametrize(
    ("external_id", "params", "status", "path"),
    [
        ("nope", {}, 404, "external_id"),
        ("5001", {"source": "shopify"}, 404, "external_id"),
        ("5001", {"source": "amazon"}, 400, "source"),
    ],
)
def test_unknown_order_or_source(
    client, token, order, external_id, params, status, path
):
    response = get_insert(client, token, external_id, **params)

    assert response.status_code == status
    assert response.json()["errors"][0]["path"] == path


def test_a_tampered_link_is_refused_with_a_friendly_page(client, order):
    good = return_start_token(order)
    other = OrderFactory(customer=order.customer)
    forged = good.replace(good.split(":")[0], return_start_token(other).split(":")[0])

    for token in (forged, good[:-2] + "xx", "not-a-token"):
        response = client.get(f"/returns/start/{token}/")
        assert response.status_code == 404
        assert "This return link does not work" in response.content.decode()


def test_a_link_stops_working_when_the_order_changes_hands(order):
    token = return_start_token(order)
    order.customer = CustomerFactory(email="someone-else@example.com")
    order.save()

    with pytest.raises(InvalidReturnLink):
        order_for_return_token(token)


def test_a_link_signed_for_another_purpose_is_refused(order):
    token = signing.dumps({"o": order.pk, "e": "x"}, salt="something.else")

    with pytest.raises(InvalidReturnLink):
        order_for_return_token(token)
