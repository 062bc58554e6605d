"""A criteria step may be a Refresh: the drift check's differences applied as one step (issue 15)."""

from django.db import migrations, models

ACTIONS = [
    ("add", "Add contacts"),
    ("reduce", "Remove contacts – reduce"),
    ("refine", "Remove contacts – refine"),
    ("reuse_criteria", "Reuse saved criteria"),
    ("reuse_logged", "Reuse logged segment"),
    ("refresh", "Refresh"),
]


class Migration(migrations.Migration):
    dependencies = [
        ("segments", "0016_line_segment_unchecked"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="criteriastep", name="criteria_step_action_valid"),
        migrations.AlterField(
            model_name="criteriastep",
            name="action",
            field=models.CharField(choices=ACTIONS, max_length=20, verbose_name="action"),
        ),
        migrations.AlterField(
            model_name="savedcriteriastep",
            name="action",
            field=models.CharField(choices=ACTIONS, max_length=20, verbose_name="action"),
        ),
        migrations.AddConstraint(
            model_name="criteriastep",
            constraint=models.CheckConstraint(
                condition=models.Q(("action__in", [value for value, _label in ACTIONS])),
                name="criteria_step_action_valid",
            ),
        ),
    ]
