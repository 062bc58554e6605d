"""The contact list's sort orders, each with its index: (name, id), (city, id), (country, id),
(salesperson, id); the id makes the order stable and lets a page be read from either end."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('crm', '0011_contact_excluded_index'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='contact',
            index=models.Index(fields=['name', 'id'], name='crm_contact_name_id_idx'),
        ),
        migrations.AddIndex(
            model_name='contact',
            index=models.Index(fields=['city', 'id'], name='crm_contact_city_id_idx'),
        ),
        migrations.AddIndex(
            model_name='contact',
            index=models.Index(fields=['country', 'id'], name='crm_contact_country_id_idx'),
        ),
        migrations.AddIndex(
            model_name='contact',
            index=models.Index(fields=['salesperson', 'id'], name='crm_contact_salesp_id_idx'),
        ),
    ]
