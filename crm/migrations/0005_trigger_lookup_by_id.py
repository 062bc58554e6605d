"""PostgreSQL: the integrity triggers look the company up by id alone.

`WHERE id = … AND type = 'company'` let the planner pick the `type` index on a table without
statistics, which made bulk inserts into a fresh database quadratic. Looking up by primary
key and then comparing the type is one index probe whatever the statistics.
"""

from django.db import migrations


PERSON_COMPANY = "a person''s company must be a company contact"
HAS_PERSONS = "a contact with persons or company classifications cannot become a person"
HAS_JOBS = "a contact with job responsibilities cannot become a company"
COMPANY_ONLY = "industry groups and business relations belong to companies only"
PERSON_ONLY = "job responsibilities belong to persons only"

FORWARD = [
    f"""
    CREATE OR REPLACE FUNCTION crm_contact_integrity() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.company_id IS NOT NULL AND (
            SELECT type FROM crm_contact WHERE id = NEW.company_id) IS DISTINCT FROM 'company' THEN
            RAISE EXCEPTION '{PERSON_COMPANY}' USING ERRCODE = 'check_violation';
        END IF;
        IF TG_OP = 'UPDATE' AND NEW.type <> OLD.type THEN
            IF NEW.type = 'person' AND (
                EXISTS (SELECT 1 FROM crm_contact WHERE company_id = NEW.id)
                OR EXISTS (SELECT 1 FROM crm_contactindustrygroup WHERE contact_id = NEW.id)
                OR EXISTS (SELECT 1 FROM crm_contactbusinessrelation WHERE contact_id = NEW.id)) THEN
                RAISE EXCEPTION '{HAS_PERSONS}' USING ERRCODE = 'check_violation';
            END IF;
            IF NEW.type = 'company' AND EXISTS (
                SELECT 1 FROM crm_contactjobresponsibility WHERE contact_id = NEW.id) THEN
                RAISE EXCEPTION '{HAS_JOBS}' USING ERRCODE = 'check_violation';
            END IF;
        END IF;
        RETURN NEW;
    END $$
    """,
    f"""
    CREATE OR REPLACE FUNCTION crm_classification_integrity() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF (SELECT type FROM crm_contact WHERE id = NEW.contact_id) IS DISTINCT FROM TG_ARGV[0] THEN
            IF TG_ARGV[0] = 'company' THEN
                RAISE EXCEPTION '{COMPANY_ONLY}' USING ERRCODE = 'check_violation';
            ELSE
                RAISE EXCEPTION '{PERSON_ONLY}' USING ERRCODE = 'check_violation';
            END IF;
        END IF;
        RETURN NEW;
    END $$
    """,
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in FORWARD:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("crm", "0004_number_series")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
