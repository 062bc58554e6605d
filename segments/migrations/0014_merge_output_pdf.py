"""A merge job may make one PDF of all letters (LibreOffice)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("segments", "0013_log_job_roles"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="mergejob", name="merge_job_output_valid"),
        migrations.AlterField(
            model_name="mergejob",
            name="output",
            field=models.CharField(
                choices=[
                    ("docx", "One combined .docx to print"),
                    ("zip", "A .zip of one .docx per line"),
                    ("pdf", "One PDF of all letters"),
                ],
                max_length=10,
                verbose_name="output",
            ),
        ),
        migrations.AddConstraint(
            model_name="mergejob",
            constraint=models.CheckConstraint(
                condition=models.Q(("output__in", ["docx", "zip", "pdf"])), name="merge_job_output_valid"
            ),
        ),
    ]
