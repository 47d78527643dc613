"""The signed-in customer's browser reports their time zone (static/js/time-zone.js):
stored for their own customer records only, so marketing e-mail keeps their quiet
hours; anything else is refused and changes nothing."""

import pytest
from django.urls import reverse

from campaigns.models import CustomerTimeZone
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = reverse("shop:report_time_zone")


@pytest.fixture
def anna():
    user = UserFactory(username="anna", email="anna@example.com")
    return user, CustomerFactory(user=user, email="anna@example.com")


def zones():
    return dict(CustomerTimeZone.objects.values_list("customer__email", "time_zone"))


def test_the_browser_s_zone_is_stored_for_the_customer(client, anna):
    user, _ = anna
    bob = CustomerFactory(email="bob@example.com")
    client.force_login(user)

    first = client.post(URL, {"time_zone": "America/New_York"})
    again = client.post(URL, {"time_zone": "Europe/Lisbon"})

    assert (first.status_code, again.status_code) == (204, 204)
    assert zones() == {"anna@example.com": "Europe/Lisbon"}
    assert not CustomerTimeZone.objects.filter(customer=bob).exists()


@pytest.mark.parametrize(
    "value", ["", "Mars/Olympus_Mons", "../../etc/passwd", "Europe/" + "x" * 80]
)
def test_an_unknown_zone_is_refused_naming_the_field(client, anna, value):
    user, _ = anna
    client.force_login(user)

    response = client.post(URL, {"time_zone": value})

    assert response.status_code == 400
    assert "time_zone" in response.json()["errors"]
    assert zones() == {}


def test_anonymous_visitors_and_gets_change_nothing(client, anna):
    anonymous = client.post(URL, {"time_zone": "America/New_York"})
    client.force_login(anna[0])
    get = client.get(URL, {"time_zone": "America/New_York"})

    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    assert get.status_code == 405
    assert zones() == {}


def test_only_signed_in_pages_load_the_script(client, anna):
    assert "time-zone.js" not in client.get("/orders/", follow=True).content.decode()

    client.force_login(anna[0])
    page = client.get("/orders/").content.decode()

    assert "js/time-zone.js" in page and f'data-url="{URL}"' in page
