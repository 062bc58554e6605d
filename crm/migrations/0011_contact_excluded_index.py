"""A small index of the contacts set to "exclude from segment" (the Log page's drift check)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0010_consent_change_logged_segment_index"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(
                condition=models.Q(("exclude_from_segment", True)), fields=["id"], name="crm_contact_excluded_idx"
            ),
        ),
    ]
