import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """A letter may be stored compact, as what differs from its Word template (`base`, PROTECT).
    Letters stored before stay whole (no base): nothing to migrate."""

    dependencies = [("interactions", "0012_document_drop_content")]

    operations = [
        migrations.AddField(
            model_name="document",
            name="base",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="compact_letters",
                to="interactions.document",
                verbose_name="base Word template",
            ),
        ),
    ]
