"""The printable return slip: RMA as Code 128 and QR, the centre's address, the lines
and the instructions; served only for a return that is on its way back."""

from io import BytesIO

import pytest
import zxingcpp
from django.core.cache import cache
from pypdf import PdfReader

from returns import services
from returns.links import slip_path, status_path
from returns.models import ReturnRequest
from returns.slip import render_slip
from tests.factories import CustomerFactory
from tests.returns.portal_setup import centre, default_policy, delivered_order

LINES = [
    ("Linen shirt", "SHIRT-1", 2, "Size or fit"),
    ("Walnut desk lamp", "LAMP-7", 1, "Damaged in transit"),
]


def slip(**overrides):
    arguments = {
        "rma": "R-7KQ2-93XD",
        "order_number": "RW-5001",
        "customer_name": "Sanne de Vries",
        "centre_name": "Returnwise warehouse",
        "centre_address": "Havenweg 12\n3011 AA Rotterdam\nNetherlands",
        "lines": LINES,
        "language": "en",
        "status_url": "https://shop.example/my-returns/r/abc/",
    }
    return render_slip(**(arguments | overrides))


def page_text(pdf: bytes) -> str:
    return " ".join(PdfReader(BytesIO(pdf)).pages[0].extract_text().split())


def codes(pdf: bytes) -> dict[str, str]:
    page = PdfReader(BytesIO(pdf)).pages[0]
    return {
        barcode.format.name: barcode.text
        for image in page.images
        for barcode in zxingcpp.read_barcodes(image.image)
    }


def test_the_slip_carries_the_rma_as_code128_and_qr():
    assert codes(slip()) == {"Code128": "R-7KQ2-93XD", "QRCode": "R-7KQ2-93XD"}


def test_the_slip_shows_address_lines_and_instructions():
    pdf = slip()

    reader = PdfReader(BytesIO(pdf))
    assert len(reader.pages) == 1
    text = page_text(pdf)
    assert "Return slip" in text
    assert "R-7KQ2-93XD" in text
    assert "Returnwise warehouse Havenweg 12 3011 AA Rotterdam Netherlands" in text
    assert "RW-5001" in text and "Sanne de Vries" in text
    assert "Linen shirt SHIRT-1 2 Size or fit" in text
    assert "Walnut desk lamp LAMP-7 1 Damaged in transit" in text
    assert "Write the return number R-7KQ2-93XD on the outside of the parcel." in text
    assert "https://shop.example/my-returns/r/abc/" in text


def test_the_slip_speaks_the_customers_language():
    text = page_text(slip(language="nl"))

    assert "Aantal" in text


@pytest.fixture
def filed(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    cache.clear()
    default_policy()
    centre()
    order = delivered_order(CustomerFactory(email="sanne@example.com"))
    line = order.lines.get()
    return services.submit_return(
        order=order,
        choices=[
            services.LineChoice(
                order_line_id=line.pk,
                quantity=1,
                reason_code="size-fit",
                resolution="refund",
            )
        ],
        channel="guest",
        idempotency_key="slip-test",
    )


def test_the_slip_link_serves_the_pdf_of_an_approved_return(client, filed):
    response = client.get(slip_path(filed, language="en"))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Cache-Control"] == "private, no-store"
    assert codes(response.content)["Code128"] == filed.rma
    text = page_text(response.content)
    assert "Havenweg 12" in text
    assert "Linen shirt 1 SHIRT-1 1 Size or fit" in text
    # the link is signed afresh for the slip: compare up to the signature's timestamp
    assert status_path(filed, language="en").split(":")[0] in "".join(text.split())


def test_no_slip_before_approval_or_after_cancelling(client, filed):
    path = slip_path(filed, language="en")
    ReturnRequest.objects.filter(pk=filed.pk).update(status="requested")

    assert client.get(path).status_code == 404
    ReturnRequest.objects.filter(pk=filed.pk).update(status="cancelled")
    assert client.get(path).status_code == 404
