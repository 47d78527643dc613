"""The product id remembered for a SKU follows the product when it is re-created."""

import pytest

from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def test_a_product_re_created_with_the_same_sku_answers_200(client):
    product = ProductFactory(sku="RE-CREATED-1")
    assert client.get("/api/v1/products/RE-CREATED-1/reviews").status_code == 200
    assert client.get("/embed/reviews/RE-CREATED-1/").status_code == 200

    product.delete()
    assert client.get("/api/v1/products/RE-CREATED-1/reviews").status_code == 404

    ProductFactory(sku="RE-CREATED-1")
    assert client.get("/api/v1/products/RE-CREATED-1/reviews").status_code == 200
    assert client.get("/embed/reviews/RE-CREATED-1/").status_code == 200
