"""Give the roles the permissions of the segment models (crm.roles)."""

from django.db import migrations


def forward(apps, schema_editor):
    from crm.roles import apply_roles

    apply_roles(apps)


class Migration(migrations.Migration):
    dependencies = [("segments", "0001_initial"), ("crm", "0004_number_series")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
