"""Staff groups from shop/migrations/0002_staff_groups.py."""

from importlib import import_module

import pytest
from django.apps import apps
from django.contrib.auth.models import Group

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

staff_groups = import_module("shop.migrations.0002_staff_groups")

STAFF_GROUPS = ["Editors", "Marketing", "Moderators", "Returns team"]


def admin_permissions(name: str) -> list[str]:
    group = Group.objects.get(name=name)
    return [
        f"{p.content_type.app_label}.{p.codename}"
        for p in group.permissions.filter(codename="access_admin")
    ]


@pytest.mark.parametrize("name", STAFF_GROUPS)
def test_each_staff_group_exists_with_admin_access(name):
    assert admin_permissions(name) == ["wagtailadmin.access_admin"]


def test_wagtails_own_groups_are_reused_not_duplicated():
    names = Group.objects.filter(name__in=STAFF_GROUPS).values_list("name", flat=True)

    assert sorted(names) == STAFF_GROUPS


@pytest.mark.parametrize("name", STAFF_GROUPS)
def test_a_member_of_a_staff_group_can_open_the_admin(client, name):
    # given
    user = UserFactory(username="staff", email="staff@example.com")
    user.groups.add(Group.objects.get(name=name))
    client.force_login(user)

    # when
    response = client.get("/admin/")

    # then
    assert response.status_code == 200


def test_a_customer_without_a_group_cannot_open_the_admin(client):
    # given
    client.force_login(UserFactory(username="anna", email="anna@example.com"))

    # when
    response = client.get("/admin/")

    # then
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_reversing_removes_only_the_new_groups():
    # when
    staff_groups.remove_staff_groups(apps, None)

    # then
    remaining = Group.objects.filter(name__in=STAFF_GROUPS)
    assert sorted(remaining.values_list("name", flat=True)) == ["Editors", "Moderators"]
    assert admin_permissions("Editors") == ["wagtailadmin.access_admin"]


def test_running_again_changes_nothing():
    # when
    staff_groups.create_staff_groups(apps, None)

    # then
    assert Group.objects.filter(name__in=STAFF_GROUPS).count() == 4
    assert admin_permissions("Returns team") == ["wagtailadmin.access_admin"]
