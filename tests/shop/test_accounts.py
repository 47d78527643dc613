"""Customer accounts (django-allauth): sign-up with mandatory verification, login by
code, password reset, changing the address, rate limits, and linking verified
addresses to the shop's customer records."""

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.cache import cache
from django.urls import reverse

from shop import services
from tests.factories import CustomerFactory, OrderFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
CONFIRM_LINK = re.compile(r"http://testserver(/accounts/confirm-email/[^/\s]+/)")
RESET_LINK = re.compile(r"http://testserver(/accounts/password/reset/key/[^/\s]+/)")
LOGIN_CODE = re.compile(r"^([A-Z0-9]{4}-[A-Z0-9]{4})$", re.MULTILINE)


def verified_user(email: str):
    user = UserFactory(username=email.split("@")[0], email=email)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def link_in(message, pattern) -> str:
    match = pattern.search(message.body)
    assert match, message.body
    return match.group(1)


def sign_up(client, email: str):
    return client.post(
        reverse("account_signup"),
        {"email": email, "password1": PASSWORD, "password2": PASSWORD},
    )


def is_signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_signup_sends_a_verification_mail_and_links_nothing_yet(client):
    # given: the shop pushed an order for anna@example.com
    customer = CustomerFactory(email="anna@example.com")
    OrderFactory(customer=customer)

    # when
    response = sign_up(client, "Anna@Example.com")

    # then
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["anna@example.com"]
    assert mail.outbox[0].subject == "[Returnwise] Please Confirm Your Email Address"
    assert mail.outbox[0].body.startswith("Hello from Returnwise!")
    assert not is_signed_in(client)
    customer.refresh_from_db()
    assert customer.user is None


def test_confirming_the_verification_link_verifies_and_links_the_customer(client):
    # given: a customer with an order, and a sign-up with that address
    customer = CustomerFactory(email="anna@example.com")
    OrderFactory(customer=customer, number="R-2001")
    other = CustomerFactory(email="bob@example.com")
    sign_up(client, "anna@example.com")
    confirm_url = link_in(mail.outbox[0], CONFIRM_LINK)

    # when: the link is opened (GET shows a form, changes nothing), then confirmed
    page = client.get(confirm_url)
    assert page.status_code == 200
    assert EmailAddress.objects.get(email="anna@example.com").verified is False
    response = client.post(confirm_url)

    # then
    assert response.status_code == 302
    assert response["Location"] == "/orders/"
    user = get_user_model().objects.get(email="anna@example.com")
    assert EmailAddress.objects.get(email="anna@example.com").verified is True
    customer.refresh_from_db()
    other.refresh_from_db()
    assert customer.user == user
    assert other.user is None
    assert is_signed_in(client)
    assert "R-2001" in client.get("/orders/").content.decode()


def test_an_unverified_user_cannot_sign_in(client):
    # given: an account whose address was never verified
    user = UserFactory(username="anna", email="anna@example.com")
    EmailAddress.objects.create(
        user=user, email="anna@example.com", verified=False, primary=True
    )

    # when
    response = client.post(
        reverse("account_login"), {"login": "anna@example.com", "password": PASSWORD}
    )

    # then: sent back to "verify your e-mail" with a fresh link, not signed in
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert not is_signed_in(client)
    assert [m.subject for m in mail.outbox] == [
        "[Returnwise] Please Confirm Your Email Address"
    ]


def test_a_verified_user_signs_in_with_a_password(client):
    # given
    verified_user("anna@example.com")

    # when
    response = client.post(
        reverse("account_login"), {"login": "anna@example.com", "password": PASSWORD}
    )

    # then
    assert response.status_code == 302
    assert response["Location"] == "/orders/"
    assert is_signed_in(client)


def test_login_by_code_mails_a_code_that_signs_in(client):
    # given
    user = verified_user("anna@example.com")

    # when: a code is requested
    response = client.post(
        reverse("account_request_login_code"), {"email": "anna@example.com"}
    )

    # then
    assert response.status_code == 302
    assert response["Location"] == reverse("account_confirm_login_code")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["anna@example.com"]
    assert mail.outbox[0].subject == "[Returnwise] Sign-In Code"
    assert not is_signed_in(client)

    # when: the mailed code is entered
    code = link_in(mail.outbox[0], LOGIN_CODE)
    response = client.post(reverse("account_confirm_login_code"), {"code": code})

    # then
    assert response.status_code == 302
    assert response["Location"] == "/orders/"
    assert client.session["_auth_user_id"] == str(user.pk)


def test_a_wrong_login_code_does_not_sign_in(client):
    # given
    verified_user("anna@example.com")
    client.post(reverse("account_request_login_code"), {"email": "anna@example.com"})

    # when
    response = client.post(reverse("account_confirm_login_code"), {"code": "AAAA-AAAA"})

    # then
    assert response.status_code == 200
    assert not is_signed_in(client)


def test_password_reset_mails_a_link_that_sets_a_new_password(client):
    # given
    verified_user("anna@example.com")

    # when: a reset is requested
    response = client.post(
        reverse("account_reset_password"), {"email": "anna@example.com"}
    )

    # then
    assert response.status_code == 302
    assert response["Location"] == reverse("account_reset_password_done")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["anna@example.com"]
    assert mail.outbox[0].subject == "[Returnwise] Password Reset Email"

    # when: the link is followed and a new password chosen
    key_url = link_in(mail.outbox[0], RESET_LINK)
    form_url = client.get(key_url)["Location"]
    new_password = "a much better passphrase 42"
    response = client.post(
        form_url, {"password1": new_password, "password2": new_password}
    )

    # then: the new password signs in, the old one no longer does
    assert response.status_code == 302
    assert response["Location"] == reverse("account_reset_password_from_key_done")
    client.logout()
    assert client.login(email="anna@example.com", password=new_password)
    assert not client.login(email="anna@example.com", password=PASSWORD)


def test_a_changed_address_links_its_customer_only_once_verified(client):
    # given: a signed-in user, and orders under another address of theirs
    user = verified_user("anna@example.com")
    new_customer = CustomerFactory(email="anna.jansen@example.com")
    client.force_login(user)

    # when: they change their address to it
    response = client.post(
        reverse("account_email"),
        {"action_add": "", "email": "anna.jansen@example.com"},
    )

    # then: a verification mail goes out, nothing is linked yet
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["anna.jansen@example.com"]
    new_customer.refresh_from_db()
    assert new_customer.user is None

    # when: the new address is confirmed
    client.post(link_in(mail.outbox[0], CONFIRM_LINK))

    # then: the customer is linked and the new address replaced the old one
    new_customer.refresh_from_db()
    assert new_customer.user == user
    assert list(
        EmailAddress.objects.filter(user=user).values_list("email", "verified")
    ) == [("anna.jansen@example.com", True)]


def test_a_customer_pushed_after_verification_is_linked_to_the_account():
    # given: an account that verified anna@example.com before any order arrived
    user = verified_user("anna@example.com")

    # when: the shop pushes her first order
    result = services.upsert_order(
        data=services.OrderData(
            external_id="9001",
            number="R-9001",
            placed_at=datetime(2025, 1, 5, 10, 0, tzinfo=UTC),
            currency="EUR",
            customer=services.CustomerData(email="ANNA@example.com"),
            lines=(
                services.LineData(
                    external_id="1", sku="MUG", quantity=1, unit_price=Decimal("9.50")
                ),
            ),
        )
    )

    # then
    assert result.order.customer.user == user


def test_a_customer_pushed_for_an_unverified_address_is_not_linked():
    # given
    user = UserFactory(username="anna", email="anna@example.com")
    EmailAddress.objects.create(
        user=user, email="anna@example.com", verified=False, primary=True
    )

    # when
    customer = services.upsert_customer(
        data=services.CustomerData(email="anna@example.com")
    )

    # then
    assert customer.user is None


@pytest.fixture
def rate_limits_on(settings):
    """allauth's limits live in the cache: start and end with an empty one."""
    cache.clear()
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "3/m/ip,3/5m/key"}
    yield
    cache.clear()


def test_rate_limit_blocks_sign_in_after_three_failed_attempts(client, rate_limits_on):
    # given: three failed attempts
    verified_user("anna@example.com")
    for _ in range(3):
        response = client.post(
            reverse("account_login"),
            {"login": "anna@example.com", "password": "wrong password"},
        )
        assert response.status_code == 200
        assert "Too many failed login attempts" not in response.content.decode()

    # when: the right password comes fourth
    response = client.post(
        reverse("account_login"), {"login": "anna@example.com", "password": PASSWORD}
    )

    # then: refused anyway
    assert response.status_code == 200
    assert "Too many failed login attempts. Try again later." in (
        response.content.decode()
    )
    assert not is_signed_in(client)


@pytest.mark.parametrize(
    ("url", "heading"),
    [
        ("/accounts/signup/", "Sign Up"),
        ("/accounts/login/", "Sign In"),
        ("/accounts/login/code/", "Send me a sign-in code"),
        ("/accounts/password/reset/", "Password Reset"),
        ("/nl/accounts/login/", "Aanmelden"),
    ],
)
def test_entrance_pages_render_in_the_site_layout(client, url, heading):
    response = client.get(url)

    html = " ".join(response.content.decode().split())
    assert response.status_code == 200
    assert '<main id="main" class="container entrance">' in html
    assert "/static/css/site.css" in html
    assert f"<h1> {heading} </h1>" in html


@pytest.mark.parametrize("url", ["/accounts/email/", "/accounts/password/change/"])
def test_account_pages_render_in_the_site_layout_with_the_account_menu(client, url):
    client.force_login(verified_user("anna@example.com"))

    response = client.get(url)

    html = response.content.decode()
    assert response.status_code == 200
    assert '<main id="main" class="container manage">' in html
    assert '<nav class="subnav" aria-label="Account">' in html
