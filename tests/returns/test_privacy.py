"""A customer's returns in the privacy export, and what erasure removes."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from returns.models import ReturnLine, ReturnPhoto, ReturnRequest, ShopWebhook
from shop import privacy
from tests.factories import CustomerFactory
from tests.returns import core_setup as setup


@pytest.fixture
def filed(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    setup.policy()
    setup.centre()
    setup.settings(shop_webhook_url="http://127.0.0.1:9/")
    customer = CustomerFactory(email="sanne@example.com")
    order = setup.order(customer=customer)
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "blue").save(buffer, "JPEG")
    photo = SimpleUploadedFile("dent.jpg", buffer.getvalue(), content_type="image/jpeg")
    request = setup.submit(
        order,
        setup.choice(
            order.lines.get(),
            reason="damaged-in-transit",
            comment="Dented corner, call me on 0612345678",
            prevention="Better box",
            photo=photo,
        ),
    )
    return customer, request


def test_the_export_lists_the_customer_s_returns(filed):
    customer, request = filed
    data = privacy.export_customer(customer=customer)
    [exported] = data["returns"]
    assert exported["rma"] == request.rma
    assert exported["status"] == "approved"
    assert exported["lines"][0]["comment"] == "Dented corner, call me on 0612345678"
    assert exported["lines"][0]["reason"] == "damaged-in-transit"
    assert len(exported["lines"][0]["photos"]) == 1
    assert [e["kind"] for e in exported["events"]] == ["requested", "approved"]


def test_erasure_keeps_the_return_but_drops_what_the_customer_wrote(filed, tmp_path):
    customer, request = filed
    photo_path = tmp_path / ReturnPhoto.objects.get().image.name
    assert photo_path.exists()

    summary = privacy.erase_customer(customer=customer)

    assert summary["returns"] == {
        "returns_kept": 1,
        "feedback_cleared": 1,
        "photos_deleted": 1,
    }
    line = ReturnLine.objects.get()
    assert (line.comment, line.prevention) == ("", "")
    assert line.reason.code == "damaged-in-transit"
    assert ReturnPhoto.objects.count() == 0
    assert not photo_path.exists()
    assert ReturnRequest.objects.get().rma == request.rma
    webhook = ShopWebhook.objects.get()
    assert webhook.payload["customer_email"] == f"erased-{customer.pk}@invalid"
