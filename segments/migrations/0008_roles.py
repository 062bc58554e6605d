"""The roles get the permissions of deliveries and merge jobs (crm.roles)."""

from django.db import migrations


def roles(apps, schema_editor):
    from crm.roles import apply_roles

    apply_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("segments", "0007_merge_job"),
        ("interactions", "0007_delivery"),
    ]

    operations = [migrations.RunPython(roles, migrations.RunPython.noop)]
