"""The roles get the permissions of log jobs (crm.roles)."""

from django.db import migrations


def roles(apps, schema_editor):
    from crm.roles import apply_roles

    apply_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("segments", "0012_log_job"),
    ]

    operations = [migrations.RunPython(roles, migrations.RunPython.noop)]
