"""The Marketing group (shop 0002) runs campaigns: add, change, view and delete
campaigns and their variants and content, view assignments."""

from django.db import migrations

MODELS = {
    "campaign": ("campaign", ["add", "change", "delete", "view"]),
    "campaignvariant": ("campaign variant", ["add", "change", "delete", "view"]),
    "campaigncontent": ("campaign content", ["add", "change", "delete", "view"]),
    "assignment": ("assignment", ["view"]),
    "campaignevent": ("campaign event", ["view"]),
}


def grant_permissions(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    group, _ = Group.objects.get_or_create(name="Marketing")
    for model, (verbose, actions) in MODELS.items():
        content_type, _ = ContentType.objects.get_or_create(
            app_label="campaigns", model=model
        )
        for action in actions:
            permission, _ = Permission.objects.get_or_create(
                content_type=content_type,
                codename=f"{action}_{model}",
                defaults={"name": f"Can {action} {verbose}"},
            )
            group.permissions.add(permission)


def revoke_permissions(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    for group in Group.objects.filter(name="Marketing"):
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="campaigns")
        )


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0001_initial"),
        ("shop", "0002_staff_groups"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(grant_permissions, revoke_permissions)]
