from django.db import migrations, models


class Migration(migrations.Migration):
    """Documents get a storage name (their bytes move to Django's storage in 0011)."""

    dependencies = [("interactions", "0009_entry_idempotency_token")]

    operations = [
        migrations.AddField(
            model_name="document",
            name="file",
            field=models.FileField(default="", max_length=255, upload_to="documents/", verbose_name="stored file"),
            preserve_default=False,
        ),
    ]
