"""The admin: the policy history is listed read-only; editors can open the policy form."""

import pytest

from cms.models import PolicySnapshot
from tests.factories import CategoryFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_superuser=True, is_staff=True))
    return client


def test_the_policy_history_lists_every_published_version(admin_client, make_policy):
    policy = make_policy(title="Shoes", categories=[CategoryFactory()])
    policy.title = "Shoes and boots"
    policy.save_revision().publish()

    response = admin_client.get("/admin/snippets/cms/policysnapshot/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Shoes and boots" in html and ">Shoes<" in html
    assert "/admin/snippets/cms/policysnapshot/add/" not in html


def test_the_history_cannot_be_edited_or_deleted(admin_client, make_policy):
    make_policy(title="Shoes", categories=[CategoryFactory()])
    snapshot = PolicySnapshot.objects.get()

    inspect = admin_client.get(
        f"/admin/snippets/cms/policysnapshot/inspect/{snapshot.pk}/"
    )
    edit = admin_client.get(f"/admin/snippets/cms/policysnapshot/edit/{snapshot.pk}/")
    delete = admin_client.post(
        f"/admin/snippets/cms/policysnapshot/delete/{snapshot.pk}/"
    )

    assert inspect.status_code == 200
    assert edit.status_code in (302, 403)
    assert delete.status_code in (302, 403)
    assert PolicySnapshot.objects.filter(pk=snapshot.pk).exists()


def test_the_policy_form_has_the_rules_tab(admin_client, index):
    response = admin_client.get(f"/admin/pages/add/cms/returnpolicypage/{index.pk}/")

    assert response.status_code == 200
    html = response.content.decode()
    for text in (
        "Rules",
        "Applies to",
        "Return shipping and fees",
        "Returnless refund",
    ):
        assert text in html
