"""Stored documents and the Word template of a template language; the roles get the new
document permissions (crm.roles)."""

import django.db.models.deletion
from django.db import migrations, models


def roles(apps, schema_editor):
    from crm.roles import apply_roles

    apply_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("interactions", "0003_roles"),
    ]

    operations = [
        migrations.CreateModel(
            name="Document",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("file_name", models.CharField(max_length=255, verbose_name="file name")),
                ("content", models.BinaryField(verbose_name="content")),
                ("size", models.PositiveBigIntegerField(verbose_name="size (bytes)")),
                ("sha256", models.CharField(max_length=64, verbose_name="SHA-256")),
                ("content_type", models.CharField(max_length=100, verbose_name="content type")),
                ("read_only", models.BooleanField(default=False, verbose_name="read-only")),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="created")),
            ],
            options={
                "verbose_name": "document",
                "verbose_name_plural": "documents",
                "ordering": ["-pk"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("file_name", ""), _negated=True), name="document_file_name_not_blank"
                    )
                ],
            },
        ),
        migrations.AddField(
            model_name="interactiontemplatelanguage",
            name="document",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="interactions.document",
                verbose_name="Word template",
            ),
        ),
        migrations.RunPython(roles, migrations.RunPython.noop),
    ]
