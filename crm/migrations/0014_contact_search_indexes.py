"""The indexes of the search box (crm.search) for "contains": on PostgreSQL trigram GIN indexes on UPPER(name) and UPPER(email) (pg_trgm, a trusted extension: a
database owner may create it), on SQLite an FTS5 table with the trigram tokenizer over the
contacts' name and e-mail (external content: it stores only its index), kept up to date by
triggers. Neither is in the model state."""

from django.db import migrations

TRIGRAM_INDEXES = {
    "crm_contact_name_trgm_idx": "name",
    "crm_contact_email_trgm_idx": "email",
}


SQLITE_FTS = "crm_contact_fts"
SQLITE_FORWARD = [
    f"CREATE VIRTUAL TABLE {SQLITE_FTS} USING fts5(name, email, content='crm_contact', content_rowid='id',"
    " tokenize='trigram')",
    f"INSERT INTO {SQLITE_FTS}({SQLITE_FTS}) VALUES ('rebuild')",
    f"""CREATE TRIGGER crm_contact_fts_ins AFTER INSERT ON crm_contact BEGIN
        INSERT INTO {SQLITE_FTS}(rowid, name, email) VALUES (NEW.id, NEW.name, NEW.email); END""",
    f"""CREATE TRIGGER crm_contact_fts_del AFTER DELETE ON crm_contact BEGIN
        INSERT INTO {SQLITE_FTS}({SQLITE_FTS}, rowid, name, email) VALUES ('delete', OLD.id, OLD.name, OLD.email); END""",
    f"""CREATE TRIGGER crm_contact_fts_upd AFTER UPDATE OF name, email ON crm_contact BEGIN
        INSERT INTO {SQLITE_FTS}({SQLITE_FTS}, rowid, name, email) VALUES ('delete', OLD.id, OLD.name, OLD.email);
        INSERT INTO {SQLITE_FTS}(rowid, name, email) VALUES (NEW.id, NEW.name, NEW.email); END""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS crm_contact_fts_ins",
    "DROP TRIGGER IF EXISTS crm_contact_fts_del",
    "DROP TRIGGER IF EXISTS crm_contact_fts_upd",
    f"DROP TABLE IF EXISTS {SQLITE_FTS}",
]


def create_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_FORWARD:
            schema_editor.execute(statement)
        return
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, column in TRIGRAM_INDEXES.items():
        # UPPER((column)::text): the expression of Django's icontains/istartswith/iexact.
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON crm_contact USING gin (UPPER(({column})::text) gin_trgm_ops)"
        )


def drop_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_BACKWARD:
            schema_editor.execute(statement)
        return
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in TRIGRAM_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0013_user_preference"),
    ]

    operations = [
        migrations.RunPython(create_trigram_indexes, drop_trigram_indexes, elidable=False),
    ]
