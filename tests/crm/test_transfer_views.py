"""The contact import page and the export download (RELIABILITY 16, 17, 18)."""

from __future__ import annotations

import csv
import datetime
import io
import json

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm.models import Contact, NumberSeries
from crm.transfer import COLUMNS
from tests.factories import make_company, make_person

pytestmark = pytest.mark.django_db

IMPORT_URL = "/contacts/import/"
EXPORT_URL = "/contacts/export/"


def upload(text: str | bytes, name: str = "contacts.csv") -> SimpleUploadedFile:
    data = text.encode() if isinstance(text, str) else text
    return SimpleUploadedFile(name, data, content_type="text/csv")


def test_the_urls_are_the_named_ones():
    assert reverse("crm:contact_import") == IMPORT_URL
    assert reverse("crm:contact_export") == EXPORT_URL


# --- import ----------------------------------------------------------------------------------


def test_marketing_sees_the_upload_form_with_the_columns_explained(marketing_client):
    response = marketing_client.get(IMPORT_URL)

    assert response.status_code == 200
    page = response.content.decode()
    assert 'enctype="multipart/form-data"' in page and 'name="file"' in page and 'name="encoding"' in page
    for column in COLUMNS:
        assert f"<code>{column}</code>" in page


def test_marketing_imports_a_file_and_is_sent_to_the_contact_list_with_the_counts(marketing_client):
    make_company(no="C0", name="Old")
    data = "no,type,company_no,name\nC0,company,,Renamed\nC1,company,,Acme\nP1,person,C1,Ann Smith\n"

    response = marketing_client.post(IMPORT_URL, {"file": upload(data), "encoding": "utf-8-sig"})

    assert response.status_code == 302 and response["Location"] == reverse("crm:contact_list")
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["Imported: 2 created, 1 updated."]
    assert Contact.objects.get(no="P1").company.no == "C1"
    assert Contact.objects.get(no="C0").name == "Renamed"


def test_a_bad_file_shows_every_problem_as_a_table_and_imports_nothing(marketing_client):
    data = "no,type,name,email,salesperson\nC1,company,Acme,bad,\nC2,company,Bolt,,NOSUCH\n"

    response = marketing_client.post(IMPORT_URL, {"file": upload(data), "encoding": "utf-8-sig"})

    assert response.status_code == 200
    page = response.content.decode()
    assert "Nothing was imported." in page and "2 problems" in page
    assert "<td>2</td>" in page and "<code>email</code>" in page and "Enter a valid email address." in page
    assert "<td>3</td>" in page and "<code>salesperson</code>" in page and "unknown code &quot;NOSUCH&quot;" in page
    assert not Contact.objects.exists()


def test_a_header_problem_is_listed_without_a_field(marketing_client):
    response = marketing_client.post(IMPORT_URL, {"file": upload("no,type,fax\n"), "encoding": "utf-8-sig"})

    assert response.status_code == 200
    assert "unknown column &quot;fax&quot;" in response.content.decode()


def test_thousands_of_problems_list_the_first_500_and_count_the_rest(marketing_client):
    rows = "".join(f"C{n},company,Acme,bad\n" for n in range(700))

    response = marketing_client.post(IMPORT_URL, {"file": upload("no,type,name,email\n" + rows)})

    page = response.content.decode()
    assert response.status_code == 200
    assert "700 problems" in page and "… and 200 more." in page
    assert page.count("Enter a valid email address.") == 500


def test_an_oversized_file_is_a_form_error_not_a_500(marketing_client, settings):
    settings.CRM_CSV_MAX_BYTES = 1024

    response = marketing_client.post(IMPORT_URL, {"file": upload("no,type,name\n" + "C1,company,Acme\n" * 200)})

    assert response.status_code == 200
    assert "The file is 3 KB; the limit is 1 KB." in response.content.decode()
    assert not Contact.objects.exists()


def test_a_200k_character_field_is_reported_not_a_500(marketing_client):
    response = marketing_client.post(IMPORT_URL, {"file": upload("no,type,name\nC1,company," + "A" * 200_000 + "\n")})

    assert response.status_code == 200
    page = response.content.decode()
    assert "longer than 100 characters (200000)" in page and "A" * 1000 not in page


def test_a_non_utf8_file_says_which_line_and_how_to_fix_it(marketing_client):
    data = "no,type,name\nC1,company,Café\n".encode("cp1252")

    response = marketing_client.post(IMPORT_URL, {"file": upload(data), "encoding": "utf-8-sig"})
    assert response.status_code == 200
    assert "the file is not valid UTF-8" in response.content.decode()
    assert not Contact.objects.exists()

    response = marketing_client.post(IMPORT_URL, {"file": upload(data), "encoding": "cp1252"})
    assert response.status_code == 302
    assert Contact.objects.get(no="C1").name == "Café"


def test_a_missing_file_is_a_form_error(marketing_client):
    response = marketing_client.post(IMPORT_URL, {"encoding": "utf-8-sig"})

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()


def test_a_viewer_may_not_import(viewer_client):
    assert viewer_client.get(IMPORT_URL).status_code == 403
    response = viewer_client.post(IMPORT_URL, {"file": upload("no,type,name\nC1,company,Acme\n")})
    assert response.status_code == 403
    assert not Contact.objects.exists()


def test_an_anonymous_user_is_sent_to_log_in():
    response = Client().get(IMPORT_URL)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_an_import_post_without_csrf_token_is_refused(marketing):
    client = Client(enforce_csrf_checks=True)
    client.force_login(marketing)

    response = client.post(IMPORT_URL, {"file": upload("no,type,name\nC1,company,Acme\n")})

    assert response.status_code == 403
    assert not Contact.objects.exists()
    assert NumberSeries.objects.get(code="CONTACT").last_no == 0


def test_an_import_post_with_the_csrf_token_works(marketing):
    client = Client(enforce_csrf_checks=True)
    client.force_login(marketing)
    client.get(IMPORT_URL)
    token = client.cookies["csrftoken"].value

    response = client.post(
        IMPORT_URL, {"file": upload("no,type,name\nC1,company,Acme\n"), "csrfmiddlewaretoken": token}
    )

    assert response.status_code == 302
    assert Contact.objects.filter(no="C1").exists()


# --- export ----------------------------------------------------------------------------------


def csv_rows(response) -> list[list[str]]:
    text = response.content.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_export_is_a_csv_attachment_named_by_date_with_formulas_neutralised(marketing_client):
    make_company(no="C1", name='=HYPERLINK("http://evil")', city="+Utrecht", phone="-1")
    make_company(no="C2", name="@SUM(1)", address="\tTab", address_2="\rCR")
    make_company(no="C3", name="Plain & Simple", city="'t Hooft")

    response = marketing_client.get(EXPORT_URL)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="contacts-{today}.csv"'
    assert response.content.startswith("\ufeff".encode())  # Excel reads it as UTF-8
    rows = csv_rows(response)
    assert rows[0] == list(COLUMNS)
    by_no = {row[0]: dict(zip(COLUMNS, row, strict=True)) for row in rows[1:]}
    assert by_no["C1"]["name"] == '\'=HYPERLINK("http://evil")'
    assert (by_no["C1"]["city"], by_no["C1"]["phone"]) == ("'+Utrecht", "'-1")
    assert (by_no["C2"]["name"], by_no["C2"]["address"], by_no["C2"]["address_2"]) == ("'@SUM(1)", "'\tTab", "'\rCR")
    assert (by_no["C3"]["name"], by_no["C3"]["city"]) == ("Plain & Simple", "'t Hooft")


def test_the_downloaded_file_imports_back_unchanged(marketing_client):
    company = make_company(no="C1", name="=Acme", address="Main 1\nB")
    make_person(company=company, no="P1", name="Ann Smith", first_name="Ann", surname="Smith", address="Home 1")
    before = sorted(map(repr, Contact.objects.values_list()))
    exported = marketing_client.get(EXPORT_URL).content

    response = marketing_client.post(IMPORT_URL, {"file": upload(exported)})

    assert response.status_code == 302
    assert sorted(map(repr, Contact.objects.values_list())) == before


def test_export_applies_the_contact_list_filter(marketing_client):
    make_company(no="C1", city="Utrecht")
    make_company(no="C2", city="Delft")
    make_company(no="C3", city="Delft")

    response = marketing_client.get(EXPORT_URL, {"city": "Delft", "page": "2"})

    assert [row[0] for row in csv_rows(response)[1:]] == ["C2", "C3"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"colour": "red"}, 'unknown filter name "colour"'),
        ({"country": "XX"}, 'country: unknown code "XX"'),
        ({"format": "xml"}, 'format: unknown format "xml" (use csv or json)'),
    ],
)
def test_an_invalid_export_filter_is_a_400_naming_it(marketing_client, query, expected):
    make_company(no="C1")

    response = marketing_client.get(EXPORT_URL, query)

    assert response.status_code == 400
    assert expected in response.content.decode()
    assert b"C1" not in response.content


def test_export_as_json(marketing_client):
    make_company(no="C1", name="=Acme")

    response = marketing_client.get(EXPORT_URL, {"format": "json"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response["Content-Disposition"].endswith(f'filename="contacts-{timezone.localdate().isoformat()}.json"')
    data = json.loads(response.content)
    assert data[0]["name"] == "=Acme" and data[0]["language"] is None


def test_the_filename_uses_the_local_date(marketing_client, settings, monkeypatch):
    monkeypatch.setattr(timezone, "localdate", lambda *a, **k: datetime.date(2026, 1, 31))

    response = marketing_client.get(EXPORT_URL)

    assert response["Content-Disposition"] == 'attachment; filename="contacts-2026-01-31.csv"'


def test_a_viewer_may_not_export_and_export_is_get_only(viewer_client, marketing_client):
    assert viewer_client.get(EXPORT_URL).status_code == 403
    assert marketing_client.post(EXPORT_URL).status_code == 405


def test_the_export_page_runs_a_fixed_number_of_queries(marketing_client, django_assert_max_num_queries):
    for n in range(5):
        make_company(no=f"S{n}")
    with django_assert_max_num_queries(15) as captured:
        marketing_client.get(EXPORT_URL)
    small = len(captured)
    for n in range(300):
        make_company(no=f"B{n:03d}")
    with django_assert_max_num_queries(small):
        marketing_client.get(EXPORT_URL)
