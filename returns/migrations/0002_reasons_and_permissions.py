"""Seed the return reasons (editable afterwards as snippets) and give the returns team
the returns admin."""

from django.db import migrations

# code, English, Dutch, controllable, fix area, needs photo, is other
REASONS = [
    ("not-as-described", "Not as described", "Niet zoals beschreven", True,
     "description", False, False),
    ("size-fit", "Size or fit", "Maat of pasvorm", True, "description", False, False),
    ("damaged-in-transit", "Damaged in transit", "Beschadigd tijdens verzending",
     True, "packaging", True, False),
    ("wrong-item", "Wrong item sent", "Verkeerd artikel ontvangen", True,
     "fulfilment", False, False),
    ("defective", "Defective", "Defect", True, "quality", True, False),
    ("arrived-too-late", "Arrived too late", "Te laat geleverd", True, "delivery",
     False, False),
    ("changed-mind", "Changed my mind", "Bedacht me", False, "none", False, False),
    ("better-price", "Found a better price", "Elders goedkoper gevonden", False,
     "none", False, False),
    ("no-longer-needed", "No longer needed", "Niet meer nodig", False, "none", False,
     False),
    ("ordered-several", "Ordered several to choose from",
     "Meerdere besteld om uit te kiezen", False, "none", False, False),
    ("other", "Other", "Anders", False, "none", False, True),
]  # fmt: skip

VIEW_CHANGE = ["view", "change"]
ALL = ["add", "change", "delete", "view"]
# model -> actions
PERMISSIONS = {
    "returnrequest": VIEW_CHANGE,
    "returnline": ["view"],
    "returnevent": ["view"],
    "returnphoto": ["view"],
    "shopwebhook": ["view"],
    "returnreason": ALL,
    "fulfilmentcentre": ALL,
    "returnssettings": ["change"],
}
EXTRA = [("returnrequest", "process_returnrequest", "Can process returns")]


def seed_reasons(apps, schema_editor):
    ReturnReason = apps.get_model("returns", "ReturnReason")
    for order, (code, en, nl, controllable, area, photo, other) in enumerate(REASONS):
        ReturnReason.objects.update_or_create(
            code=code,
            defaults={
                "label_en": en,
                "label_nl": nl,
                "controllable": controllable,
                "fix_area": area,
                "needs_photo": photo,
                "is_other": other,
                "sort_order": order * 10,
            },
        )


def grant_permissions(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    group, _ = Group.objects.get_or_create(name="Returns team")
    wanted = [
        (model, f"{action}_{model}", f"Can {action} {model}")
        for model, actions in PERMISSIONS.items()
        for action in actions
    ] + EXTRA
    for model, codename, name in wanted:
        content_type, _ = ContentType.objects.get_or_create(
            app_label="returns", model=model
        )
        permission, _ = Permission.objects.get_or_create(
            content_type=content_type, codename=codename, defaults={"name": name}
        )
        group.permissions.add(permission)


def revoke_permissions(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    for group in Group.objects.filter(name="Returns team"):
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="returns")
        )


class Migration(migrations.Migration):
    dependencies = [
        ("returns", "0001_initial"),
        ("shop", "0002_staff_groups"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunPython(seed_reasons, migrations.RunPython.noop),
        migrations.RunPython(grant_permissions, revoke_permissions),
    ]
