"""Give the roles the permissions of the logging models (crm.roles)."""

from django.db import migrations


def forward(apps, schema_editor):
    from crm.roles import apply_roles

    apply_roles(apps)


class Migration(migrations.Migration):
    dependencies = [("interactions", "0002_logging"), ("segments", "0004_journal_without_constraints")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
