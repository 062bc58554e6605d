# Saved criteria keep what each step did (its recorded counts) and whether it was a manual
# line, so a replay can remove no more than a hand deletion did and say where it differs.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('segments', '0009_merge_job_heartbeat'),
    ]

    operations = [
        migrations.AddField(
            model_name='savedcriteriastep',
            name='manual',
            field=models.BooleanField(default=False, help_text='A line typed or deleted by hand.', verbose_name='manual'),
        ),
        migrations.AddField(
            model_name='savedcriteriastep',
            name='lines_added',
            field=models.PositiveIntegerField(blank=True, null=True, verbose_name='lines added'),
        ),
        migrations.AddField(
            model_name='savedcriteriastep',
            name='lines_removed',
            field=models.PositiveIntegerField(blank=True, null=True, verbose_name='lines removed'),
        ),
    ]
