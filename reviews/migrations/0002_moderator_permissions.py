"""Give the "Moderators" group (shop migration 0002) the reviews permissions: see and
moderate reviews in the Wagtail admin, and edit the review settings.

Permissions are normally created after all migrations have run, so this creates the
ones it needs. Reversing takes them away from the group again.
"""

from django.db import migrations

GROUP = "Moderators"
PERMISSIONS = [
    ("review", "view_review", "Can view review"),
    ("review", "change_review", "Can change review"),
    ("review", "moderate_review", "Can moderate reviews"),
    ("reviewsettings", "change_reviewsettings", "Can change review settings"),
]


def _permissions(apps):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    for model, codename, name in PERMISSIONS:
        content_type, _ = ContentType.objects.get_or_create(
            app_label="reviews", model=model
        )
        permission, _ = Permission.objects.get_or_create(
            content_type=content_type, codename=codename, defaults={"name": name}
        )
        yield permission


def grant(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    group, _ = Group.objects.get_or_create(name=GROUP)
    group.permissions.add(*_permissions(apps))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    group = Group.objects.filter(name=GROUP).first()
    if group is not None:
        group.permissions.remove(*_permissions(apps))


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0001_initial"),
        ("shop", "0002_staff_groups"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
