"""Staff groups, each allowed into the Wagtail admin.

Wagtail's own migrations create "Editors" and "Moderators"; they are reused, not
recreated. Reversing removes only the two groups this migration adds.
"""

from django.db import migrations

WAGTAIL_GROUPS = ["Editors", "Moderators"]
NEW_GROUPS = ["Returns team", "Marketing"]


def create_staff_groups(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")

    admin_type, _ = ContentType.objects.get_or_create(
        app_label="wagtailadmin", model="admin"
    )
    access_admin, _ = Permission.objects.get_or_create(
        content_type=admin_type,
        codename="access_admin",
        defaults={"name": "Can access Wagtail admin"},
    )
    for name in WAGTAIL_GROUPS + NEW_GROUPS:
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(access_admin)


def remove_staff_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.filter(name__in=NEW_GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("shop", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        # Creates "Editors" and "Moderators".
        ("wagtailcore", "0002_initial_data"),
        # Creates the "access_admin" permission (0003 is its current model state).
        ("wagtailadmin", "0003_admin_managed"),
    ]

    operations = [
        migrations.RunPython(create_staff_groups, remove_staff_groups),
    ]
