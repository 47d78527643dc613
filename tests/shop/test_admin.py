"""The "Shop" menu in the Wagtail admin: read-only listings and token revocation."""

import json

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from shop.models import ApiToken, Category, Customer, Order, Product
from shop.services import create_api_token
from tests.factories import (
    CustomerFactory,
    OrderFactory,
    OrderLineFactory,
    ProductFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

MODELS = [Customer, Order, Product, Category, ApiToken]


def url(model, view, *args):
    return reverse(model.snippet_viewset.get_url_name(view), args=args)


@pytest.fixture
def superuser_client(client):
    client.force_login(UserFactory(username="admin", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def shop_data():
    anna = CustomerFactory(email="anna@example.com", first_name="Anna")
    bob = CustomerFactory(email="bob@example.com", first_name="Bob", language="nl")
    OrderLineFactory(
        order=OrderFactory(customer=anna, number="#1001", external_id="ext-anna"),
        product=ProductFactory(sku="TEE-M", name="T-shirt M"),
    )
    OrderFactory(customer=bob, number="#1002", external_id="ext-bob")
    create_api_token(name="webshop")


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_a_superuser_sees_each_shop_listing(superuser_client, shop_data, model):
    # when a superuser opens the listing
    response = superuser_client.get(url(model, "list"))

    # then it renders
    assert response.status_code == 200


def test_the_shop_menu_groups_the_listings(superuser_client):
    # when a superuser opens the admin dashboard
    response = superuser_client.get(reverse("wagtailadmin_home"))

    # then the "Shop" menu holds the five listings
    assert response.status_code == 200
    content = response.content.decode()
    for model in MODELS:
        assert url(model, "list") in content
    assert '"Shop"' in content


def test_the_order_listing_shows_customer_and_number(superuser_client, shop_data):
    # when a superuser opens the order listing
    response = superuser_client.get(url(Order, "list"))

    # then each order shows its number and customer
    content = response.content.decode()
    for text in ("#1001", "#1002", "anna@example.com", "bob@example.com"):
        assert text in content


@pytest.mark.parametrize(
    ("model", "query", "shown", "hidden"),
    [
        (Customer, {"q": "bob@"}, "bob@example.com", "anna@example.com"),
        (Customer, {"language": "nl"}, "bob@example.com", "anna@example.com"),
        (Order, {"q": "anna@example"}, "#1001", "#1002"),
        (Order, {"q": "ext-bob"}, "#1002", "#1001"),
    ],
)
def test_listings_search_and_filter(
    superuser_client, shop_data, model, query, shown, hidden
):
    # when a superuser searches or filters a listing
    response = superuser_client.get(url(model, "list"), query)

    # then only the matching rows are shown
    content = response.content.decode()
    assert response.status_code == 200
    assert shown in content
    assert hidden not in content


def test_an_order_can_be_inspected(superuser_client, shop_data):
    # when a superuser opens an order
    order = Order.objects.get(number="#1001")
    response = superuser_client.get(url(Order, "inspect", order.pk))

    # then its details are shown
    assert response.status_code == 200
    assert "anna@example.com" in response.content.decode()


def test_a_user_without_admin_access_is_sent_to_the_login(client, shop_data):
    # given a logged-in customer account without staff rights
    client.force_login(UserFactory(username="customer"))

    # when it opens a shop listing
    response = client.get(url(Customer, "list"))

    # then it is redirected to the admin login
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("wagtailadmin_login"))


def test_staff_need_the_view_permission_for_each_listing(client, shop_data):
    # given a staff member allowed into the admin and to view orders only
    staff = UserFactory(username="returns")
    staff.user_permissions.add(
        Permission.objects.get(codename="access_admin"),
        Permission.objects.get(codename="view_order"),
    )
    client.force_login(staff)

    # when they open the order and customer listings
    orders = client.get(url(Order, "list"))
    customers = client.get(url(Customer, "list"))

    # then orders are shown and customers are not
    assert orders.status_code == 200
    assert customers.status_code == 302
    assert customers["Location"] == reverse("wagtailadmin_home")


@pytest.mark.parametrize(
    ("model", "view"),
    [
        (ApiToken, "add"),
        (Order, "add"),
        (Customer, "add"),
        (Product, "add"),
        (Category, "add"),
    ],
)
def test_nobody_adds_shop_data_in_the_admin(superuser_client, model, view):
    # when even a superuser opens an add form
    response = superuser_client.get(url(model, view))

    # then it is refused: tokens come from the command, the rest from the shop
    assert response.status_code == 302
    assert response["Location"] == reverse("wagtailadmin_home")


@pytest.mark.parametrize("model", [Order, Customer, Product], ids=lambda m: m.__name__)
def test_shop_data_cannot_be_edited_or_deleted(superuser_client, shop_data, model):
    # given a row pushed by the shop
    obj = model.objects.first()
    before = list(model.objects.values())

    # when a superuser tries to edit or delete it
    edit = superuser_client.post(url(model, "edit", obj.pk), {})
    delete = superuser_client.post(url(model, "delete", obj.pk))

    # then both are refused and nothing changed
    assert (edit.status_code, delete.status_code) == (302, 302)
    assert list(model.objects.values()) == before


def test_revoking_a_token_in_the_admin_makes_the_api_refuse_it(superuser_client):
    # given a token in use
    token, key = create_api_token(name="webshop")
    body = json.dumps({"name": "T-shirt", "price": "19.95", "currency": "EUR"})
    product_url = reverse("api:product", args=["TEE"])
    auth = {"HTTP_AUTHORIZATION": f"Token {key}"}
    assert (
        superuser_client.put(
            product_url, body, content_type="application/json", **auth
        ).status_code
        == 201
    )

    # when staff tick "Revoke this token" and save
    response = superuser_client.post(url(ApiToken, "edit", token.pk), {"revoke": "on"})

    # then the token is revoked and the API refuses it
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    refused = superuser_client.put(
        product_url, body, content_type="application/json", **auth
    )
    assert refused.status_code == 401


def test_saving_a_token_without_ticking_revoke_keeps_it_active(superuser_client):
    # given an active token
    token, _ = create_api_token(name="webshop")

    # when its edit form is saved unticked
    response = superuser_client.post(url(ApiToken, "edit", token.pk), {})

    # then it stays active
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is None


def test_a_revoked_token_cannot_be_restored_in_the_admin(superuser_client):
    # given a revoked token
    token, _ = create_api_token(name="webshop")
    superuser_client.post(url(ApiToken, "edit", token.pk), {"revoke": "on"})
    token.refresh_from_db()
    revoked_at = token.revoked_at

    # when its form is saved with the box unticked
    superuser_client.post(url(ApiToken, "edit", token.pk), {})

    # then it stays revoked, at the original time
    token.refresh_from_db()
    assert token.revoked_at == revoked_at


def test_the_token_edit_form_shows_no_key(superuser_client):
    # given a token
    token, key = create_api_token(name="webshop")

    # when its edit form is opened
    response = superuser_client.get(url(ApiToken, "edit", token.pk))

    # then it shows the name and prefix, never the key or its hash
    content = response.content.decode()
    assert response.status_code == 200
    assert "webshop" in content
    assert token.prefix in content
    assert key not in content
    assert token.key_hash not in content


def test_tokens_cannot_be_bulk_deleted(superuser_client):
    # given a token
    token, _ = create_api_token(name="webshop")

    # when a superuser submits the bulk delete action for it
    bulk_delete = reverse("wagtail_bulk_action", args=["shop", "apitoken", "delete"])
    superuser_client.post(f"{bulk_delete}?id={token.pk}", {})

    # then the token is still there
    assert list(ApiToken.objects.values_list("name", flat=True)) == ["webshop"]
