"""Database triggers for the invariants that span rows (see crm.models' docstring).

A CHECK constraint cannot look at another row, so these rules are triggers, written once for
each supported database. A violation raises an integrity error (SQLite RAISE(ABORT),
PostgreSQL check_violation), which Django reports as IntegrityError.
"""

from django.db import migrations

PERSON_COMPANY = "a person's company must be a company contact"
HAS_PERSONS = "a contact with persons or company classifications cannot become a person"
HAS_JOBS = "a contact with job responsibilities cannot become a company"
COMPANY_ONLY = "industry groups and business relations belong to companies only"
PERSON_ONLY = "job responsibilities belong to persons only"
RANGE_OWNER = "a date range must use an alternate address of the same contact"

SQLITE_FORWARD = [
    f"""
    CREATE TRIGGER crm_contact_company_ins BEFORE INSERT ON crm_contact
    WHEN NEW.company_id IS NOT NULL
     AND (SELECT type FROM crm_contact WHERE id = NEW.company_id) IS NOT 'company'
    BEGIN SELECT RAISE(ABORT, '{PERSON_COMPANY.replace("'", "''")}'); END
    """,
    f"""
    CREATE TRIGGER crm_contact_company_upd BEFORE UPDATE OF company_id, type ON crm_contact
    WHEN NEW.company_id IS NOT NULL
     AND (SELECT type FROM crm_contact WHERE id = NEW.company_id) IS NOT 'company'
    BEGIN SELECT RAISE(ABORT, '{PERSON_COMPANY.replace("'", "''")}'); END
    """,
    f"""
    CREATE TRIGGER crm_contact_to_person BEFORE UPDATE OF type ON crm_contact
    WHEN NEW.type = 'person' AND OLD.type = 'company' AND (
        EXISTS (SELECT 1 FROM crm_contact WHERE company_id = NEW.id)
     OR EXISTS (SELECT 1 FROM crm_contactindustrygroup WHERE contact_id = NEW.id)
     OR EXISTS (SELECT 1 FROM crm_contactbusinessrelation WHERE contact_id = NEW.id))
    BEGIN SELECT RAISE(ABORT, '{HAS_PERSONS}'); END
    """,
    f"""
    CREATE TRIGGER crm_contact_to_company BEFORE UPDATE OF type ON crm_contact
    WHEN NEW.type = 'company' AND OLD.type = 'person'
     AND EXISTS (SELECT 1 FROM crm_contactjobresponsibility WHERE contact_id = NEW.id)
    BEGIN SELECT RAISE(ABORT, '{HAS_JOBS}'); END
    """,
    *[
        f"""
        CREATE TRIGGER {table}_{op}_type BEFORE {op.upper()} ON {table}
        WHEN (SELECT type FROM crm_contact WHERE id = NEW.contact_id) IS NOT '{kind}'
        BEGIN SELECT RAISE(ABORT, '{message}'); END
        """
        for table, kind, message in (
            ("crm_contactindustrygroup", "company", COMPANY_ONLY),
            ("crm_contactbusinessrelation", "company", COMPANY_ONLY),
            ("crm_contactjobresponsibility", "person", PERSON_ONLY),
        )
        for op in ("insert", "update")
    ],
    *[
        f"""
        CREATE TRIGGER crm_contactaltaddressdaterange_{op}_owner BEFORE {op.upper()}
        ON crm_contactaltaddressdaterange
        WHEN (SELECT contact_id FROM crm_contactaltaddress WHERE id = NEW.alt_address_id)
             IS NOT NEW.contact_id
        BEGIN SELECT RAISE(ABORT, '{RANGE_OWNER}'); END
        """
        for op in ("insert", "update")
    ],
]
SQLITE_TRIGGERS = [
    "crm_contact_company_ins",
    "crm_contact_company_upd",
    "crm_contact_to_person",
    "crm_contact_to_company",
    *[
        f"{table}_{op}_type"
        for table in ("crm_contactindustrygroup", "crm_contactbusinessrelation", "crm_contactjobresponsibility")
        for op in ("insert", "update")
    ],
    "crm_contactaltaddressdaterange_insert_owner",
    "crm_contactaltaddressdaterange_update_owner",
]


def _pg_raise(message: str) -> str:
    return f"RAISE EXCEPTION '{message.replace(chr(39), chr(39) * 2)}' USING ERRCODE = 'check_violation';"


POSTGRES_FORWARD = [
    f"""
    CREATE FUNCTION crm_contact_integrity() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.company_id IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM crm_contact WHERE id = NEW.company_id AND type = 'company') THEN
            {_pg_raise(PERSON_COMPANY)}
        END IF;
        IF TG_OP = 'UPDATE' AND NEW.type <> OLD.type THEN
            IF NEW.type = 'person' AND (
                EXISTS (SELECT 1 FROM crm_contact WHERE company_id = NEW.id)
                OR EXISTS (SELECT 1 FROM crm_contactindustrygroup WHERE contact_id = NEW.id)
                OR EXISTS (SELECT 1 FROM crm_contactbusinessrelation WHERE contact_id = NEW.id)) THEN
                {_pg_raise(HAS_PERSONS)}
            END IF;
            IF NEW.type = 'company' AND EXISTS (
                SELECT 1 FROM crm_contactjobresponsibility WHERE contact_id = NEW.id) THEN
                {_pg_raise(HAS_JOBS)}
            END IF;
        END IF;
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER crm_contact_integrity BEFORE INSERT OR UPDATE OF company_id, type ON crm_contact
    FOR EACH ROW EXECUTE FUNCTION crm_contact_integrity()
    """,
    f"""
    CREATE FUNCTION crm_classification_integrity() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NOT EXISTS (SELECT 1 FROM crm_contact WHERE id = NEW.contact_id AND type = TG_ARGV[0]) THEN
            IF TG_ARGV[0] = 'company' THEN {_pg_raise(COMPANY_ONLY)}
            ELSE {_pg_raise(PERSON_ONLY)}
            END IF;
        END IF;
        RETURN NEW;
    END $$
    """,
    *[
        f"""
        CREATE TRIGGER {table}_type BEFORE INSERT OR UPDATE ON {table}
        FOR EACH ROW EXECUTE FUNCTION crm_classification_integrity('{kind}')
        """
        for table, kind in (
            ("crm_contactindustrygroup", "company"),
            ("crm_contactbusinessrelation", "company"),
            ("crm_contactjobresponsibility", "person"),
        )
    ],
    f"""
    CREATE FUNCTION crm_alt_range_integrity() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NOT EXISTS (SELECT 1 FROM crm_contactaltaddress
                       WHERE id = NEW.alt_address_id AND contact_id = NEW.contact_id) THEN
            {_pg_raise(RANGE_OWNER)}
        END IF;
        RETURN NEW;
    END $$
    """,
    """
    CREATE TRIGGER crm_contactaltaddressdaterange_owner BEFORE INSERT OR UPDATE
    ON crm_contactaltaddressdaterange FOR EACH ROW EXECUTE FUNCTION crm_alt_range_integrity()
    """,
]
POSTGRES_BACKWARD = [
    "DROP TRIGGER IF EXISTS crm_contact_integrity ON crm_contact",
    "DROP TRIGGER IF EXISTS crm_contactindustrygroup_type ON crm_contactindustrygroup",
    "DROP TRIGGER IF EXISTS crm_contactbusinessrelation_type ON crm_contactbusinessrelation",
    "DROP TRIGGER IF EXISTS crm_contactjobresponsibility_type ON crm_contactjobresponsibility",
    "DROP TRIGGER IF EXISTS crm_contactaltaddressdaterange_owner ON crm_contactaltaddressdaterange",
    "DROP FUNCTION IF EXISTS crm_contact_integrity()",
    "DROP FUNCTION IF EXISTS crm_classification_integrity()",
    "DROP FUNCTION IF EXISTS crm_alt_range_integrity()",
]


def _run(schema_editor, statements):
    for statement in statements:
        schema_editor.execute(statement)


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        _run(schema_editor, SQLITE_FORWARD)
    elif vendor == "postgresql":
        _run(schema_editor, POSTGRES_FORWARD)
    else:
        raise NotImplementedError(f"No integrity triggers for database vendor {vendor!r}.")


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        _run(schema_editor, [f"DROP TRIGGER IF EXISTS {name}" for name in SQLITE_TRIGGERS])
    elif vendor == "postgresql":
        _run(schema_editor, POSTGRES_BACKWARD)


class Migration(migrations.Migration):
    dependencies = [("crm", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
