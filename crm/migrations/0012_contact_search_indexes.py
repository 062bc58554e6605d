"""The indexes of the search box (crm.search): e-mail on both databases; on PostgreSQL trigram GIN
indexes on UPPER(name) and UPPER(email) for "contains" (pg_trgm, a trusted extension: a database
owner may create it). The trigram indexes are a no-op on SQLite, and are not in the model state."""

from django.db import migrations, models

TRIGRAM_INDEXES = {
    "crm_contact_name_trgm_idx": "name",
    "crm_contact_email_trgm_idx": "email",
}


def create_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, column in TRIGRAM_INDEXES.items():
        # UPPER((column)::text): the expression of Django's icontains/istartswith/iexact.
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON crm_contact USING gin (UPPER(({column})::text) gin_trgm_ops)"
        )


def drop_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in TRIGRAM_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0011_contact_excluded_index"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(fields=["email"], name="crm_contact_email_idx"),
        ),
        migrations.RunPython(create_trigram_indexes, drop_trigram_indexes, elidable=False),
    ]
