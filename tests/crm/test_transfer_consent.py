"""Consent columns of the contact import and export (CONTRACT "Consent per channel and
unsubscribe"): `email_consent`, `postal_consent`, `phone_consent`, and their history."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.consent import consent_history, contact_set_consent, withdraw_by_unsubscribe_link
from crm.models import ConsentChange, Contact
from crm.permissions import COMMAND_LINE
from crm.transfer import (
    COLUMNS,
    ImportFailed,
    contacts_export_csv,
    contacts_export_json,
    contacts_import_csv,
    import_source,
)
from tests.factories import make_company, make_person

pytestmark = pytest.mark.django_db

CONSENT = ["email_consent", "postal_consent", "phone_consent"]


def run(*lines: str, **kwargs):
    return contacts_import_csv(data=("\n".join(lines) + "\n").encode(), user=COMMAND_LINE, **kwargs)


def states(no: str) -> tuple[str, str, str]:
    return Contact.objects.filter(no=no).values_list(*CONSENT).get()


def history(no: str) -> list[tuple]:
    contact = Contact.objects.get(no=no)
    return list(consent_history(contact).values_list("channel", "state", "source", "user", "logged_segment_id"))


def everything() -> list:
    """Every contact and history row, as values, to prove that nothing was written."""
    return [sorted(map(repr, Contact.objects.values_list())), list(ConsentChange.objects.values_list())]


def test_the_columns_follow_job_responsibilities_in_the_order_email_postal_phone():
    assert COLUMNS[COLUMNS.index("job_responsibilities") + 1 :] == tuple(CONSENT)


def test_a_new_contact_takes_the_states_given_and_each_one_set_is_recorded_with_the_file_name():
    result = run(
        "no,type,name,email_consent,postal_consent,phone_consent",
        "C1,company,Acme,granted,withdrawn,",
        "C2,company,Bolt,,,",
        "C3,company,Cube,Unknown,GRANTED,unknown",
        file_name="spring.csv",
    )

    assert (result.created, result.consent_changes) == (3, 3)
    assert states("C1") == ("granted", "withdrawn", "unknown")
    assert states("C2") == ("unknown",) * 3
    assert states("C3") == ("unknown", "granted", "unknown")
    assert sorted(history("C1")) == [
        ("email", "granted", "import spring.csv", None, None),
        ("postal", "withdrawn", "import spring.csv", None, None),
    ]
    assert history("C2") == []
    assert history("C3") == [("postal", "granted", "import spring.csv", None, None)]


def test_a_file_without_the_columns_or_with_blank_cells_leaves_the_states_as_they_are():
    company = make_company(no="C1", name="Acme")
    contact_set_consent(actor=COMMAND_LINE, contact=company, states={"email": "withdrawn", "phone": "granted"})
    before = ConsentChange.objects.count()

    run("no,type,name", "C1,company,Acme Renamed")
    run("no,type,name,email_consent,postal_consent,phone_consent", "C1,company,Acme,,,")

    assert states("C1") == ("withdrawn", "unknown", "granted")
    assert ConsentChange.objects.count() == before


def test_an_existing_contact_changes_only_the_channels_whose_state_differs_and_each_change_is_recorded(marketing):
    make_company(no="C1", name="Acme")
    make_company(no="C2", name="Bolt")
    contact_set_consent(actor=COMMAND_LINE, contact=Contact.objects.get(no="C1"), states={"email": "granted"})
    stamp = Contact.objects.get(no="C2").updated_at

    result = contacts_import_csv(
        data=b"no,type,name,email_consent,postal_consent\nC1,company,Acme,granted,withdrawn\nC2,company,Bolt,,\n",
        user=marketing,
        file_name="autumn.csv",
    )

    assert result.consent_changes == 1
    assert states("C1") == ("granted", "withdrawn", "unknown")
    assert history("C1")[-1] == ("postal", "withdrawn", "import autumn.csv", marketing.pk, None)
    assert len(history("C1")) == 2
    assert Contact.objects.get(no="C2").updated_at == stamp  # nothing of C2 changed
    # The same file again changes nothing more.
    again = contacts_import_csv(
        data=b"no,type,name,email_consent,postal_consent\nC1,company,Acme,granted,withdrawn\n", user=marketing
    )
    assert again.consent_changes == 0
    assert len(history("C1")) == 2


def test_an_import_can_grant_again_what_an_unsubscribe_withdrew_and_keeps_both_in_the_history():
    person = make_person(no="P1", name="Ann Smith")
    withdraw_by_unsubscribe_link(contact_id=person.pk, logged_segment_id=7)

    run("no,type,name,email_consent", "P1,person,Ann Smith,granted", file_name="consent-forms.csv")

    assert states("P1")[0] == "granted"
    assert history("P1") == [
        ("email", "withdrawn", "unsubscribe link", None, 7),
        ("email", "granted", "import consent-forms.csv", None, None),
    ]


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        (
            "maybe",
            'line 3: email_consent: unknown consent state "maybe" (use granted, withdrawn, unknown or leave it blank)',
        ),
        (
            "yes",
            'line 3: email_consent: unknown consent state "yes" (use granted, withdrawn, unknown or leave it blank)',
        ),
    ],
)
def test_a_bad_state_is_an_error_naming_line_column_and_value_and_nothing_is_written(cell, message):
    make_company(no="C0", name="Existing")
    before = everything()

    with pytest.raises(ImportFailed) as info:
        run(
            "no,type,name,email_consent,postal_consent",
            "C0,company,Existing,granted,withdrawn",
            f"C1,company,Acme,{cell},granted",
        )

    assert info.value.errors == [message]
    assert everything() == before


def test_a_bad_state_on_a_later_chunk_rolls_back_the_states_already_written(monkeypatch):
    from crm import transfer

    monkeypatch.setattr(transfer, "CHUNK_ROWS", 2)
    make_company(no="C0", name="Existing")
    before = everything()
    lines = ["no,type,name,email_consent"] + [f"C{n},company,Co {n},granted" for n in range(5)]
    lines.append("C9,company,Last,nope")

    with pytest.raises(ImportFailed) as info:
        run(*lines)

    assert info.value.errors == [
        'line 7: email_consent: unknown consent state "nope" (use granted, withdrawn, unknown or leave it blank)'
    ]
    assert everything() == before


def test_the_source_names_the_file_without_control_characters_and_fits_its_column():
    assert import_source() == "import"
    assert import_source("a\x00b\tc.csv") == "import a b c.csv"
    assert len(import_source("x" * 300)) == 100


def test_export_writes_the_states_and_imports_back_without_new_history():
    run(
        "no,type,name,email_consent,postal_consent,phone_consent",
        "C1,company,Acme,granted,withdrawn,unknown",
        "C2,company,Bolt,,granted,withdrawn",
    )
    first = io.StringIO()
    contacts_export_csv(out=first)
    rows = list(csv.DictReader(io.StringIO(first.getvalue())))
    before = everything()

    result = contacts_import_csv(data=first.getvalue().encode(), user=COMMAND_LINE)

    assert list(rows[0])[-4:] == ["job_responsibilities", *CONSENT]
    assert [(row["email_consent"], row["postal_consent"], row["phone_consent"]) for row in rows] == [
        ("granted", "withdrawn", "unknown"),
        ("unknown", "granted", "withdrawn"),
    ]
    assert result.consent_changes == 0
    assert everything() == before


def test_the_json_export_has_the_three_keys_right_after_job_responsibilities():
    run("no,type,name,email_consent,phone_consent", "C1,company,Acme,withdrawn,granted")
    out = io.StringIO()

    contacts_export_json(out=out)

    (record,) = json.loads(out.getvalue())
    keys = list(record)
    assert keys[keys.index("job_responsibilities") + 1 :] == CONSENT
    assert (record["email_consent"], record["postal_consent"], record["phone_consent"]) == (
        "withdrawn",
        "unknown",
        "granted",
    )


def consent_file(count: int, state: str, start: int = 0) -> bytes:
    lines = ["no,type,name,email_consent,postal_consent,phone_consent"]
    lines += [f"C{n:06d},company,Company {n},{state},{state},granted" for n in range(start, start + count)]
    return "\n".join(lines).encode()


def count_queries(func) -> int:
    with CaptureQueriesContext(connection) as captured:
        func()
    return len(captured)


def test_consent_costs_a_fixed_number_of_queries_whatever_the_row_count(django_assert_max_num_queries):
    small = count_queries(lambda: contacts_import_csv(user=COMMAND_LINE, data=consent_file(50, "granted")))
    with django_assert_max_num_queries(small):
        result = contacts_import_csv(user=COMMAND_LINE, data=consent_file(600, "granted", start=1000))
    assert result.consent_changes == 600 * 3
    # Updating: every existing contact's e-mail and postal consent changes, phone stays.
    small_update = count_queries(lambda: contacts_import_csv(user=COMMAND_LINE, data=consent_file(50, "withdrawn")))
    with django_assert_max_num_queries(small_update):
        result = contacts_import_csv(user=COMMAND_LINE, data=consent_file(600, "withdrawn", start=1000))
    assert result.consent_changes == 600 * 2
    assert Contact.objects.filter(email_consent="withdrawn", postal_consent="withdrawn").count() == 650
    assert ConsentChange.objects.count() == 650 * 5


def test_the_import_command_records_the_file_name_as_the_source(tmp_path):
    path = tmp_path / "partners.csv"
    path.write_text("no,type,name,email_consent\nC1,company,Acme,granted\n", encoding="utf-8")

    call_command("import_contacts", str(path), stdout=io.StringIO(), stderr=io.StringIO())

    assert history("C1") == [("email", "granted", "import partners.csv", None, None)]


def test_the_import_page_records_the_user_and_the_uploaded_file_name(marketing_client, marketing):
    data = b"no,type,name,postal_consent\nC1,company,Acme,withdrawn\n"
    upload = SimpleUploadedFile("from-fair.csv", data, content_type="text/csv")

    response = marketing_client.post("/contacts/import/", {"file": upload, "encoding": "utf-8-sig"})

    assert response.status_code == 302
    assert history("C1") == [("postal", "withdrawn", "import from-fair.csv", marketing.pk, None)]


def test_the_import_page_shows_a_bad_state_and_writes_nothing(marketing_client):
    upload = SimpleUploadedFile("x.csv", b"no,type,name,phone_consent\nC1,company,Acme,sure\n", content_type="text/csv")

    response = marketing_client.post("/contacts/import/", {"file": upload, "encoding": "utf-8-sig"})

    page = response.content.decode()
    assert response.status_code == 200 and "Nothing was imported." in page
    assert "<code>phone_consent</code>" in page and "unknown consent state &quot;sure&quot;" in page
    assert not Contact.objects.exists() and not ConsentChange.objects.exists()
