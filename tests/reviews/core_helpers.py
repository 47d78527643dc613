"""Shared set-up for the reviews-core tests: buyers, delivered lines, photo uploads.

Test modules import the fixtures they use (`from tests.reviews.core_helpers import
isolated`), so pytest finds them."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from reviews import services
from tests.factories import (
    CustomerFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
    UserFactory,
)


@pytest.fixture
def isolated(settings, tmp_path):
    """Uploads into a temporary MEDIA_ROOT and empty rate-limit counters."""
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()
    yield
    cache.clear()


def buyer(email: str = "anna@example.com", username: str = "anna"):
    """A signed-up customer: (user, customer) with the address verified."""
    user = UserFactory(username=username, email=email)
    return user, CustomerFactory(email=email, user=user)


def delivered_line(customer, *, product=None, delivered: bool = True, days_ago=5):
    placed = timezone.now() - timedelta(days=days_ago + 3)
    order = OrderFactory(
        customer=customer,
        placed_at=placed,
        delivered_at=placed + timedelta(days=3) if delivered else None,
    )
    return OrderLineFactory(order=order, product=product or ProductFactory())


def jpeg_upload(name: str = "photo.jpg", size=(64, 48), color=(200, 80, 40)):
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


GOOD_BODY = "Warm, soft and well made. The sleeves are a little long for me."


def submit(line, **overrides):
    values = {
        "order_line": line,
        "customer": line.order.customer,
        "rating": 4,
        "title": "Lovely jumper",
        "body": GOOD_BODY,
        "language": "en",
        "may_quote": True,
        "photos": (),
    }
    return services.submit_review(**(values | overrides))
