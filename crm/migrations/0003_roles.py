"""Create the Viewer, Marketing and Admin groups (crm.roles)."""

from django.db import migrations


def forward(apps, schema_editor):
    from crm.roles import apply_roles

    apply_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0002_integrity_triggers"),
        ("interactions", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
