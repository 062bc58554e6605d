"""The number series of SPEC D11: contacts CT000001…, campaigns CP0001…, segments SEG00001…."""

from django.db import migrations

SERIES = [("CONTACT", "CT", 6), ("CAMPAIGN", "CP", 4), ("SEGMENT", "SEG", 5)]


def forward(apps, schema_editor):
    number_series = apps.get_model("crm", "NumberSeries")
    for code, prefix, digits in SERIES:
        number_series.objects.get_or_create(code=code, defaults={"prefix": prefix, "digits": digits})


class Migration(migrations.Migration):
    dependencies = [("crm", "0003_roles")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
