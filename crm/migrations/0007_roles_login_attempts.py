"""Admins get django-axes' permissions: they see and clear log-in lock-outs (crm.roles)."""

from django.db import migrations


def forward(apps, schema_editor):
    from crm.roles import apply_roles

    apply_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0006_worker_process"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
