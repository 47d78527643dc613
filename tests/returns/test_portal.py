"""The returns portal over HTTP: from My orders and from the parcel's QR code, through
lines, reasons, feedback and resolution, the quote, confirmation, the done page, the
status page and cancelling; and that nobody reaches another customer's order or
return."""

import re
from decimal import Decimal
from io import BytesIO
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from PIL import Image

from cms.return_links import return_start_path, return_start_token
from returns import services
from returns.models import (
    Channel,
    EventKind,
    ReturnPhoto,
    ReturnRequest,
    ReturnStatus,
)
from tests.factories import CustomerFactory, OrderFactory, UserFactory
from tests.returns.portal_setup import (
    centre,
    confirm_key,
    default_policy,
    delivered_order,
    line_post,
    status_link,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clean_state():
    language = translation.get_language()
    cache.clear()
    yield
    cache.clear()
    translation.activate(language)


@pytest.fixture
def world(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    default_policy()
    return centre()


@pytest.fixture
def sanne():
    return UserFactory(username="sanne", email="sanne@example.com")


@pytest.fixture
def order(world, sanne):
    customer = CustomerFactory(email="sanne@example.com", user=sanne)
    return delivered_order(customer, lines=2)


@pytest.fixture
def sanne_client(client, sanne):
    client.force_login(sanne)
    return client


def file_return(client, order, **line_kwargs):
    """Choose the first line, confirm, and return the final response."""
    line = order.lines.order_by("pk").first()
    data = line_post(line, **({"reason": "changed-mind"} | line_kwargs))
    chosen = client.post(f"/my-returns/orders/{order.pk}/", data)
    assert chosen.status_code == 302, chosen.content.decode()
    confirm = client.get(chosen["Location"])
    return client.post(
        f"/my-returns/orders/{order.pk}/confirm/",
        {"key": confirm_key(confirm.content.decode())},
        follow=True,
    )


def test_my_orders_links_each_shipped_order_to_the_portal(sanne_client, order, sanne):
    not_shipped = OrderFactory(
        customer=order.customer, number="RW-2", shipped_at=None, delivered_at=None
    )

    html = sanne_client.get("/orders/").content.decode()

    assert f'href="/my-returns/orders/{order.pk}/"' in html
    assert f'href="/my-returns/orders/{not_shipped.pk}/"' not in html


def test_the_form_lists_lines_eligibility_and_reasons_with_other_last(
    sanne_client, order
):
    response = sanne_client.get(f"/my-returns/orders/{order.pk}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "Return order RW-1001" in html
    assert "Linen shirt 1" in html and "Linen shirt 2" in html
    assert "You can return up to 2 of these until" in html
    assert "Return it within 30 days." in html
    reasons = (
        response.context["form"].fields[f"line-{order.lines.first().pk}-reason"].choices
    )
    assert reasons[0] == ("", "Choose a reason")
    assert reasons[-1] == ("other", "Other")
    assert len(reasons) == 12
    assert response["X-Robots-Tag"] == "noindex"
    assert "no-store" in response["Cache-Control"]


def test_a_signed_in_customer_files_a_return_with_feedback(sanne_client, order):
    line = order.lines.order_by("pk").first()
    chosen = sanne_client.post(
        f"/my-returns/orders/{order.pk}/",
        line_post(
            line,
            quantity=2,
            reason="size-fit",
            resolution="refund",
            comment="The sleeves are far too short.",
            prevention="A size chart with arm length.",
        ),
    )
    assert chosen.status_code == 302
    assert chosen["Location"] == f"/my-returns/orders/{order.pk}/confirm/"

    confirm = sanne_client.get(chosen["Location"])
    html = confirm.content.decode()
    assert "Check your return" in html
    assert "Within the return window (until" in html
    assert "We pay the return shipping." in html  # size/fit is the shop's fault
    assert "EUR 80.00" in html
    assert ReturnRequest.objects.count() == 0  # nothing filed before confirming

    done = sanne_client.post(
        f"/my-returns/orders/{order.pk}/confirm/",
        {"key": confirm_key(html)},
        follow=True,
    )

    found = ReturnRequest.objects.get()
    assert found.channel == Channel.ACCOUNT
    assert found.status == ReturnStatus.APPROVED
    [returned] = found.lines.all()
    assert (returned.order_line, returned.quantity) == (line, 2)
    assert returned.reason.code == "size-fit"
    assert returned.comment == "The sleeves are far too short."
    assert returned.prevention == "A size chart with arm length."
    assert returned.requested_resolution == "refund"
    page = done.content.decode()
    assert done.status_code == 200
    assert "Your return is registered" in page
    assert found.rma in page
    assert "Download the return slip (PDF)" in page


def test_the_quote_says_who_pays_shipping_and_what_it_costs(sanne_client, order):
    line = order.lines.order_by("pk").first()
    sanne_client.post(
        f"/my-returns/orders/{order.pk}/",
        line_post(line, reason="changed-mind", resolution="refund"),
    )

    html = sanne_client.get(f"/my-returns/orders/{order.pk}/confirm/").content.decode()

    assert "You pay the return shipping: EUR 4.95." in html


def test_returnless_lines_say_the_customer_may_keep_the_item(
    world, sanne_client, sanne
):
    cheap = delivered_order(
        CustomerFactory(email="sanne@example.com", user=sanne),
        number="RW-CHEAP",
        price="3.00",
    )
    default_policy_page = world  # the centre; the policy is republished below
    assert default_policy_page
    from cms.models import ReturnPolicyPage
    from tests.cms.conftest import republish

    republish(ReturnPolicyPage.objects.get(), returnless_max_item_value=Decimal("10"))
    line = cheap.lines.get()

    sanne_client.post(
        f"/my-returns/orders/{cheap.pk}/",
        line_post(line, reason="defective", resolution="refund"),
    )
    html = sanne_client.get(f"/my-returns/orders/{cheap.pk}/confirm/").content.decode()

    assert "You may keep the item." in html
    assert "Keep the item: sending it back would cost about" in html
    assert "Nothing needs to be sent back." in html


def test_confirming_twice_files_one_return(sanne_client, order):
    line = order.lines.order_by("pk").first()
    sanne_client.post(
        f"/my-returns/orders/{order.pk}/", line_post(line, reason="changed-mind")
    )
    key = confirm_key(
        sanne_client.get(f"/my-returns/orders/{order.pk}/confirm/").content.decode()
    )

    first = sanne_client.post(f"/my-returns/orders/{order.pk}/confirm/", {"key": key})
    second = sanne_client.post(f"/my-returns/orders/{order.pk}/confirm/", {"key": key})

    assert ReturnRequest.objects.count() == 1
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"quantity": 3}, "quantity", "Ensure this value is less than or equal to 2."),
        ({"reason": ""}, "reason", "Choose why you are returning this item."),
        ({"resolution": ""}, "resolution", "Choose what you would like instead."),
        ({"resolution": "repair"}, "resolution", "Select a valid choice."),
        ({"reason": "nonsense"}, "reason", "Select a valid choice."),
    ],
)
def test_bad_input_names_the_field_and_files_nothing(
    sanne_client, order, data, field, message
):
    line = order.lines.order_by("pk").first()
    post = line_post(line, **({"reason": "changed-mind"} | data))

    response = sanne_client.post(f"/my-returns/orders/{order.pk}/", post)

    assert response.status_code == 400
    errors = response.context["form"].errors[f"line-{line.pk}-{field}"]
    assert any(error.startswith(message) for error in errors)
    assert ReturnRequest.objects.count() == 0
    assert "returns.draft" not in sanne_client.session


def test_choosing_nothing_is_refused(sanne_client, order):
    response = sanne_client.post(f"/my-returns/orders/{order.pk}/", {})

    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == [
        "Choose how many of at least one item you want to return."
    ]


def test_a_photo_is_kept_with_the_line(sanne_client, order):
    buffer = BytesIO()
    Image.new("RGB", (40, 30), "red").save(buffer, format="JPEG")
    photo = SimpleUploadedFile("dent.jpg", buffer.getvalue(), "image/jpeg")

    file_return(sanne_client, order, reason="damaged-in-transit", photo=photo)

    [saved] = ReturnPhoto.objects.all()
    assert saved.line.reason.code == "damaged-in-transit"
    assert saved.image.width == 40


def _phone_photo() -> bytes:
    """A JPEG as a phone takes it: 40 × 30 pixels stored sideways (EXIF orientation
    6, "rotate 90° clockwise to show"), with the maker and the GPS position where it
    was taken."""
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (52.0, 22.0, 12.5), 3: "E", 4: (4.0, 53.0, 40.0)}
    buffer = BytesIO()
    Image.new("RGB", (40, 30), "red").save(buffer, format="JPEG", exif=exif)
    return buffer.getvalue()


def _metadata(path) -> dict:
    with Image.open(path) as image:
        return {
            "exif": dict(image.getexif()),
            "info": sorted(
                set(image.info) - {"jfif", "jfif_version", "jfif_unit", "jfif_density"}
            ),
            "size": image.size,
        }


def test_a_photos_location_and_camera_never_reach_the_media_storage(
    sanne_client, order, settings
):
    line = order.lines.order_by("pk").first()
    photo = SimpleUploadedFile("sanne-home-dent.jpg", _phone_photo(), "image/jpeg")
    media = Path(settings.MEDIA_ROOT)

    # The customer chooses the line with her photo: the draft waits for confirmation.
    chosen = sanne_client.post(
        f"/my-returns/orders/{order.pk}/",
        line_post(line, reason="damaged-in-transit", photo=photo),
    )
    assert chosen.status_code == 302
    [draft] = [p for p in media.rglob("*") if p.is_file()]
    assert _metadata(draft) == {"exif": {}, "info": [], "size": (30, 40)}

    # She confirms: the stored photo is upright, without EXIF, under a random name.
    confirm = sanne_client.get(chosen["Location"])
    sanne_client.post(
        f"/my-returns/orders/{order.pk}/confirm/",
        {"key": confirm_key(confirm.content.decode())},
    )
    [saved] = ReturnPhoto.objects.all()
    stored = media / saved.image.name
    assert _metadata(stored) == {"exif": {}, "info": [], "size": (30, 40)}
    assert "sanne" not in saved.image.name
    assert re.fullmatch(
        r"returns/photos/\d{4}/\d{2}/[0-9a-f]{32}\.jpg", saved.image.name
    )
    # and the draft's copy is gone: the stored photo is the only file left.
    assert [p for p in media.rglob("*") if p.is_file()] == [stored]


def test_a_file_that_is_not_an_image_is_refused(sanne_client, order):
    line = order.lines.order_by("pk").first()
    fake = SimpleUploadedFile("dent.jpg", b"not an image", "image/jpeg")

    response = sanne_client.post(
        f"/my-returns/orders/{order.pk}/",
        line_post(line, reason="damaged-in-transit", photo=fake),
    )

    assert response.status_code == 400
    assert response.context["form"].errors[f"line-{line.pk}-photo"]
    assert ReturnRequest.objects.count() == 0


def test_the_qr_link_opens_the_portal_and_files_through_qr(client, order):
    path = return_start_path(order, language="en")
    page = client.get(path)

    assert page.status_code == 200
    assert "Return order RW-1001" in page.content.decode()
    done = file_return(client, order)

    assert done.status_code == 200
    assert ReturnRequest.objects.get().channel == Channel.QR


def test_a_broken_qr_link_is_a_friendly_404(client, order):
    token = return_start_token(order)

    response = client.get(f"/returns/start/{token[:-3]}xyz/")

    assert response.status_code == 404
    assert "This return link does not work" in response.content.decode()


def test_the_status_page_shows_the_timeline(sanne_client, order):
    done = file_return(sanne_client, order)
    link = status_link(done.content.decode())

    html = sanne_client.get(link).content.decode()

    found = ReturnRequest.objects.get()
    assert f"Return {found.rma}" in html
    assert "Requested" in html
    assert "Approved" in html
    assert "Cancel return" in html


def test_the_customer_cancels_before_the_parcel_arrives(sanne_client, order):
    link = status_link(file_return(sanne_client, order).content.decode())

    response = sanne_client.post(f"{link}cancel/", {"confirm": "on"}, follow=True)

    found = ReturnRequest.objects.get()
    assert found.status == ReturnStatus.CANCELLED
    assert found.events.filter(kind=EventKind.CANCELLED).count() == 1
    assert "Your return is cancelled." in response.content.decode()


def test_cancelling_after_the_parcel_arrived_is_refused(sanne_client, order):
    link = status_link(file_return(sanne_client, order).content.decode())
    found = ReturnRequest.objects.get()
    services.receive(request=found, by=UserFactory(username="agent", is_staff=True))

    response = sanne_client.post(f"{link}cancel/", {"confirm": "on"}, follow=True)

    found.refresh_from_db()
    assert found.status == ReturnStatus.RECEIVED
    assert found.events.filter(kind=EventKind.CANCELLED).count() == 0
    assert "Cancel return" not in response.content.decode()


def test_another_customer_gets_404_everywhere(client, sanne_client, order):
    link = status_link(file_return(sanne_client, order).content.decode())
    found = ReturnRequest.objects.get()
    token = link.rstrip("/").rsplit("/", 1)[1]
    other = UserFactory(username="bob", email="bob@example.com")
    CustomerFactory(email="bob@example.com", user=other)
    client.force_login(other)

    for path in (
        f"/my-returns/orders/{order.pk}/",
        f"/my-returns/orders/{order.pk}/confirm/",
        link,
        f"{link}done/",
        f"{link}slip.pdf",
    ):
        assert client.get(path).status_code == 404, path
    assert client.post(f"{link}cancel/", {"confirm": "on"}).status_code == 404
    assert client.post(f"/my-returns/orders/{order.pk}/", {}).status_code == 404
    found.refresh_from_db()
    assert found.status == ReturnStatus.APPROVED
    assert token


def test_an_anonymous_visitor_cannot_open_an_order(client, order):
    assert client.get(f"/my-returns/orders/{order.pk}/").status_code == 404


def test_a_tampered_status_link_is_404(sanne_client, order):
    link = status_link(file_return(sanne_client, order).content.decode())

    assert sanne_client.get(link[:-4] + "xyz/").status_code == 404


def test_the_portal_lists_the_customers_own_returns(sanne_client, order):
    file_return(sanne_client, order)
    found = ReturnRequest.objects.get()

    html = sanne_client.get("/my-returns/").content.decode()

    assert found.rma in html
    assert "My returns" in html


def test_the_portal_speaks_dutch(sanne_client, order):
    html = sanne_client.get(f"/nl/my-returns/orders/{order.pk}/").content.decode()

    assert '<html lang="nl">' in html
