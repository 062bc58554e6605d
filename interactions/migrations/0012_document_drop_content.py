from django.db import migrations, models


class Migration(migrations.Migration):
    """The bytes are in storage (0011): the column goes, every document names a file of its own."""

    dependencies = [("interactions", "0011_document_content_to_storage")]

    operations = [
        migrations.RemoveField(model_name="document", name="content"),
        migrations.AlterField(
            model_name="document",
            name="file",
            field=models.FileField(max_length=255, unique=True, upload_to="documents/", verbose_name="stored file"),
        ),
        migrations.AddConstraint(
            model_name="document",
            constraint=models.CheckConstraint(condition=~models.Q(file=""), name="document_file_not_blank"),
        ),
    ]
