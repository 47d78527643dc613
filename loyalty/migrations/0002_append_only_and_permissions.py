"""Ledger entries refuse UPDATE and DELETE in the database too (PostgreSQL: an
IntegrityError, SQLSTATE 23001), and the
returns team and marketing get the loyalty admin.

TRUNCATE (test teardown, a deliberate wipe) is not blocked.
"""

from django.db import migrations

TABLES = ["loyalty_pointsentry", "loyalty_storecreditentry"]

FUNCTION = """
CREATE OR REPLACE FUNCTION loyalty_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% rows are append-only: write a correcting entry', TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
"""

# (model, codename, name) per group.
COMMON = [
    ("pointsaccount", "view_pointsaccount", "Can view points account"),
    ("pointsaccount", "adjust_points", "Can adjust points balances"),
    ("pointsaccount", "view_loyalty_report", "Can view the loyalty report"),
    ("pointsentry", "view_pointsentry", "Can view points entry"),
    ("coupon", "view_coupon", "Can view coupon"),
    ("reward", "view_reward", "Can view reward"),
]
GROUPS = {
    "Returns team": COMMON,
    "Marketing": COMMON
    + [
        ("reward", "add_reward", "Can add reward"),
        ("reward", "change_reward", "Can change reward"),
        ("reward", "delete_reward", "Can delete reward"),
        ("loyaltysettings", "change_loyaltysettings", "Can change loyalty settings"),
    ],
}


def add_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION, params=None)
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION loyalty_refuse_change()"
        )


def remove_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS loyalty_refuse_change()")


def grant_permissions(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    for group_name, permissions in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        for model, codename, name in permissions:
            content_type, _ = ContentType.objects.get_or_create(
                app_label="loyalty", model=model
            )
            permission, _ = Permission.objects.get_or_create(
                content_type=content_type, codename=codename, defaults={"name": name}
            )
            group.permissions.add(permission)


def revoke_permissions(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    for group in Group.objects.filter(name__in=GROUPS):
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="loyalty")
        )


class Migration(migrations.Migration):
    dependencies = [
        ("loyalty", "0001_initial"),
        ("shop", "0002_staff_groups"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunPython(add_triggers, remove_triggers),
        migrations.RunPython(grant_permissions, revoke_permissions),
    ]
