"""Interaction template pages and document downloads (interactions/views/templates.py,
interactions/views/documents.py): SPEC F1.9, F1.10, R72, D10; RELIABILITY 7–12 as the page
shows them.

The list and the template page, every allowed field and filter, the sample .docx, uploading a
Word template per language (valid, invalid with every problem listed, oversized refused before
it is read, not a .docx), the role matrix and CSRF, and the headers of every download (also an
entry's stored letter and its Word template)."""

from __future__ import annotations

import html
import io
import re

import docx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm.models import SalutationFormula, SalutationType
from interactions.documents import document_create
from interactions.merge_fields import SAMPLE_FORMULAS, sample_context
from interactions.models import Document, InteractionLogEntry, InteractionTemplateLanguage
from interactions.ooxml import DOCX_CONTENT_TYPE
from interactions.sample_template import sample_letter_docx
from interactions.wordtemplates import ALLOWED_FIELDS, ALLOWED_FILTERS, MAX_FILE_BYTES, field_text
from tests.factories import attach_word_template, make_language, make_person, make_salesperson, make_template
from tests.interactions.docx_builders import docx_bytes, rezip
from tests.interactions.entry_builders import single

pytestmark = pytest.mark.django_db

LIST = reverse("interactions:template_list")
SAMPLE = reverse("interactions:template_sample")


def detail_url(template) -> str:
    return reverse("interactions:template_detail", args=[template.code])


def upload_url(template) -> str:
    return reverse("interactions:template_upload", args=[template.code])


def document_url(template, document) -> str:
    return reverse("interactions:template_document", args=[template.code, document.pk])


def text(response) -> str:
    return response.content.decode()


def messages_of(response) -> list[str]:
    return [str(m) for m in response.wsgi_request._messages]


def language_row(page: str, language: str) -> str:
    """The table row of one language on the template page."""
    start = page.index(f'<tr id="language-{language}">')
    return page[start : page.index("</tr>", start)]


def docx_upload(data: bytes, name: str = "letter.docx") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=DOCX_CONTENT_TYPE)


def valid_letter(*paragraphs: str) -> bytes:
    return docx_bytes(*(paragraphs or ("{{ salutation_formal }},", "Hello {{ contact.name }}.")))


def downloaded(response) -> bytes:
    """The body of a download, streamed (FileResponse) or not, read once."""
    if not hasattr(response, "downloaded"):
        response.downloaded = response.getvalue()
    return response.downloaded


def assert_download(response, *, file_name: str, content_type: str = DOCX_CONTENT_TYPE) -> None:
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"] == f'attachment; filename="{file_name}"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert int(response["Content-Length"]) == len(downloaded(response))


@pytest.fixture
def template():
    """SPRING with default language ENU (a row with a Word template) and an empty DEU row."""
    template = make_template("SPRING", description="Spring letter", language=make_language("ENU", name="English"))
    attach_word_template(template, "Dear {{ contact.name }}")
    make_language("DEU", name="German")
    InteractionTemplateLanguage.objects.create(template=template, language_id="DEU", description="Frühling")
    make_language("FRA", name="French")
    return template


def row(template, language):
    return InteractionTemplateLanguage.objects.select_related("document").get(template=template, language_id=language)


# --- Role matrix and CSRF -------------------------------------------------------------------------


def read_urls(template) -> list[str]:
    return [LIST, detail_url(template), SAMPLE, document_url(template, row(template, "ENU").document)]


def test_every_page_needs_login(client, template):
    for url in read_urls(template):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url
    response = client.post(upload_url(template), {"language": "ENU", "file": docx_upload(valid_letter())})
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert Document.objects.count() == 1


@pytest.mark.parametrize("role_client", ["viewer_client", "marketing_client", "admin_client_crm"])
def test_every_role_reads_the_pages_and_downloads(request, role_client, template):
    client = request.getfixturevalue(role_client)
    for url in read_urls(template):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("role_client", ["viewer_client", "marketing_client"])
def test_only_admins_upload_others_get_403_and_no_form(request, role_client, template):
    client = request.getfixturevalue(role_client)
    before = row(template, "ENU").document_id

    response = client.post(upload_url(template), {"language": "ENU", "file": docx_upload(valid_letter())})

    assert response.status_code == 403
    assert row(template, "ENU").document_id == before and Document.objects.count() == 1
    page = text(client.get(detail_url(template)))
    assert 'enctype="multipart/form-data"' not in page and "Add a language" not in page


def test_an_upload_without_csrf_token_is_refused(admin_user, template):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)

    response = client.post(upload_url(template), {"language": "ENU", "file": docx_upload(valid_letter())})

    assert response.status_code == 403
    assert Document.objects.count() == 1


def test_an_upload_with_the_csrf_token_works(admin_user, template):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    client.get(detail_url(template))
    token = client.cookies["csrftoken"].value

    response = client.post(
        upload_url(template), {"language": "ENU", "file": docx_upload(valid_letter()), "csrfmiddlewaretoken": token}
    )

    assert response.status_code == 302


def test_unknown_template_is_404(viewer_client):
    assert viewer_client.get(reverse("interactions:template_detail", args=["NOPE"])).status_code == 404


def test_a_code_with_a_slash_has_its_pages(admin_client_crm):
    template = make_template("A/B", language=make_language("ENU"))

    assert admin_client_crm.get(detail_url(template)).status_code == 200
    response = admin_client_crm.post(upload_url(template), {"language": "ENU", "file": docx_upload(valid_letter())})
    assert response.status_code == 302 and response["Location"] == detail_url(template)
    assert row(template, "ENU").document is not None


def test_the_nav_shows_interaction_templates_to_viewers(viewer_client, template):
    page = text(viewer_client.get(LIST))
    assert f'<a href="{LIST}" aria-current="page">Interaction Templates</a>' in page


# --- The list ------------------------------------------------------------------------------------


def test_list_shows_templates_with_group_and_languages_marking_those_with_a_word_template(
    viewer_client, template, django_assert_max_num_queries
):
    for n in range(5):
        make_template(f"T{n}", language=make_language(f"L{n}"))

    with django_assert_max_num_queries(8):
        response = viewer_client.get(LIST)

    page = text(response)
    assert response.status_code == 200
    assert "6 templates" in page
    assert f'<a href="{detail_url(template)}">SPRING</a>' in page and "Spring letter" in page
    assert f'<abbr title="Letters">{template.group_id}</abbr>' in page
    assert re.search(r'<span class="badge ok" title="Has a Word template">ENU ✓</span>', page)
    assert re.search(r'<span class="badge" title="No Word template">DEU</span>', page)


# --- The template page ---------------------------------------------------------------------------


def test_template_page_lists_each_language_with_its_word_template(viewer_client, template):
    document = row(template, "ENU").document

    response = viewer_client.get(detail_url(template))

    page = text(response)
    assert response.status_code == 200
    assert "Interaction template SPRING · Spring letter" in page
    enu = language_row(page, "ENU")
    assert f'href="{document_url(template, document)}" download>SPRING.docx</a>' in enu
    assert f"{timezone.localtime(document.created_at):%Y-%m-%d}" in enu and "KB" in enu and "default" in enu
    deu = language_row(page, "DEU")
    assert "No Word template: lines in this language cannot be merged." in deu


def test_template_page_lists_every_allowed_field_with_its_example_and_every_filter(viewer_client, template):
    page = text(viewer_client.get(detail_url(template)))

    fields = page[page.index('id="merge-fields"') : page.index('id="merge-filters"')]
    for path in ALLOWED_FIELDS:
        assert f"<code>{{{{ {path} }}}}</code>" in fields, path
    assert "Smith &amp; Sons Ltd." in fields and "2025-03-14" in fields
    filters = page[page.index('id="merge-filters"') :]
    for name in ALLOWED_FILTERS:
        assert f"<code>{name}</code>" in filters
    assert f'href="{SAMPLE}"' in page and "Download a sample .docx" in page


def field_examples(page: str) -> dict[str, str]:
    """Each field's example as the page shows it (HTML unescaped), by the field's path."""
    fields = page[page.index('id="merge-fields"') : page.index('id="merge-filters"')]
    rows = re.findall(
        r'<tr><td class="nowrap"><code>\{\{ ([\w.]+) \}\}</code></td><td>.*?</td><td class="pre muted">(.*?)</td></tr>',
        fields,
        re.S,
    )
    # An example is sample output (<samp>): the made-up line's values, not words of the page.
    return {path: html.unescape(re.sub(r"</?samp>", "", example)) for path, example in rows}


def test_each_field_example_is_the_field_rendered_from_the_sample_line(viewer_client, template):
    examples = field_examples(text(viewer_client.get(detail_url(template))))

    sample = sample_context()
    assert examples == {path: field_text(path, sample) for path in ALLOWED_FIELDS}
    # The salutation is the sample formula filled in exactly as written: no punctuation added.
    formula = SalutationFormula(formula=SAMPLE_FORMULAS[SalutationType.FORMAL])
    assert examples["salutation_formal"] == formula.render(sample["contact"]) == "Dear Ms de Vries"
    assert examples["salutation_informal"] == "Dear Anna"
    assert examples["address_block"].splitlines()[:2] == ["Anna de Vries", "Smith & Sons Ltd."]
    assert (examples["channel"], examples["unsubscribe_url"], examples["today"]) == ("letter", "", "2025-03-14")


def test_admin_sees_an_upload_form_per_language_and_one_to_add_a_language(admin_client_crm, template):
    page = text(admin_client_crm.get(detail_url(template)))

    assert page.count('enctype="multipart/form-data"') == 3
    assert '<input type="hidden" name="language" value="ENU">' in page
    assert '<input type="hidden" name="language" value="DEU">' in page
    add = page[page.index("Add a language") :]
    assert '<option value="FRA">FRA – French</option>' in add
    assert 'value="ENU"' not in add and 'value="DEU"' not in add


def test_the_sample_is_the_same_bytes_whenever_it_is_made(monkeypatch):
    """python-docx stamps each part with the current time; the sample fixes it, so a download
    made a second later is the same file."""
    import time

    first = sample_letter_docx()
    later = time.localtime(time.time() + 3600)
    monkeypatch.setattr(time, "localtime", lambda *args: later)

    assert sample_letter_docx() == first


def test_sample_download_is_a_valid_word_template(viewer_client):
    response = viewer_client.get(SAMPLE)

    assert_download(response, file_name="sample-letter.docx")
    assert response.content == sample_letter_docx()
    docx.Document(io.BytesIO(response.content))


# --- Uploading -----------------------------------------------------------------------------------


def test_upload_replaces_the_languages_word_template(admin_client_crm, template):
    old = row(template, "ENU").document
    data = valid_letter()

    response = admin_client_crm.post(
        upload_url(template), {"language": "ENU", "file": docx_upload(data, "Spring 2026.docx")}
    )

    assert response.status_code == 302 and response["Location"] == detail_url(template)
    new = row(template, "ENU").document
    assert new.pk != old.pk and new.file_name == "Spring 2026.docx" and new.read_bytes() == data
    assert not Document.objects.filter(pk=old.pk).exists()
    (message,) = messages_of(response)
    assert message.startswith("Stored “Spring 2026.docx” (")
    assert message.endswith("as the Word template of SPRING for ENU. It replaces “SPRING.docx”.")


def test_upload_attaches_to_a_row_without_one(admin_client_crm, template):
    response = admin_client_crm.post(upload_url(template), {"language": "DEU", "file": docx_upload(valid_letter())})

    assert response.status_code == 302
    assert row(template, "DEU").document.file_name == "letter.docx"
    assert row(template, "DEU").description == "Frühling"


def test_upload_for_a_language_that_is_not_a_row_adds_the_row(admin_client_crm, template):
    response = admin_client_crm.post(upload_url(template), {"language": "FRA", "file": docx_upload(valid_letter())})

    assert response.status_code == 302
    assert row(template, "FRA").document.file_name == "letter.docx"
    page = text(admin_client_crm.get(detail_url(template)))
    assert 'id="language-FRA"' in page


def test_an_invalid_word_template_lists_every_problem_and_stores_nothing(admin_client_crm, template):
    before = (Document.objects.count(), row(template, "ENU").document_id)
    data = valid_letter("Dear {{ contact.shoe_size }}", "{{ contact.name|wordcount }}", "{{ 7 * 6 }}")

    response = admin_client_crm.post(upload_url(template), {"language": "ENU", "file": docx_upload(data)})

    assert response.status_code == 400
    assert (Document.objects.count(), row(template, "ENU").document_id) == before
    page = text(response)
    enu = language_row(page, "ENU")
    assert "The document was not stored." in enu
    assert '<input type="hidden" name="language" value="ENU">' in enu
    problems = re.findall(r"<li>(.*?)</li>", enu[enu.index("upload-problems") :].split("</ul>")[0])
    assert len(problems) >= 3
    assert any("contact.shoe_size" in problem for problem in problems)
    assert any("wordcount" in problem for problem in problems)
    assert any("*" in problem or "arithmetic" in problem.lower() for problem in problems)


def test_a_package_with_macros_is_refused_with_the_reason(admin_client_crm, template):
    data = rezip(valid_letter(), add={"word/vbaProject.bin": b"\0" * 64})

    response = admin_client_crm.post(upload_url(template), {"language": "DEU", "file": docx_upload(data)})

    assert response.status_code == 400
    assert "macro" in text(response).lower()
    assert row(template, "DEU").document_id is None and Document.objects.count() == 1


def test_a_refused_upload_for_a_new_language_shows_on_the_add_form_and_adds_no_row(admin_client_crm, template):
    response = admin_client_crm.post(
        upload_url(template), {"language": "FRA", "file": docx_upload(valid_letter("{{ contact.nope }}"))}
    )

    assert response.status_code == 400
    add = text(response)[text(response).index("Add a language") :]
    assert "contact.nope" in add
    assert not InteractionTemplateLanguage.objects.filter(template=template, language_id="FRA").exists()


def test_an_oversized_upload_is_refused_before_it_is_read(admin_client_crm, template):
    data = b"PK" + b"x" * MAX_FILE_BYTES  # not even a zip: reading it would report that instead

    response = admin_client_crm.post(upload_url(template), {"language": "DEU", "file": docx_upload(data)})

    assert response.status_code == 400
    page = text(response)
    assert "The file is 5.0\xa0MB, over the limit of 5.0\xa0MB. Nothing was stored." in page
    assert "zip" not in page.lower()
    assert Document.objects.count() == 1 and row(template, "DEU").document_id is None


def test_a_file_that_is_not_a_docx_is_refused(admin_client_crm, template):
    response = admin_client_crm.post(
        upload_url(template), {"language": "DEU", "file": SimpleUploadedFile("letter.doc", b"\xd0\xcf\x11\xe0")}
    )

    assert response.status_code == 400
    assert "Only Word documents (.docx) can be uploaded; “letter.doc” is not one." in text(response)
    assert Document.objects.count() == 1


def test_an_upload_without_a_file_or_language_is_refused(admin_client_crm, template):
    response = admin_client_crm.post(upload_url(template), {"language": "XX"})

    assert response.status_code == 400
    page = text(response)
    assert "“XX” is not a language you can upload a document for here." in page
    assert "This field is required." in page
    assert Document.objects.count() == 1


def test_a_refused_upload_is_shown_when_no_language_is_left_to_add(admin_client_crm):
    template = make_template("ONLY", language=make_language("ENU"))
    InteractionTemplateLanguage.objects.create(template=template, language_id="ENU")

    response = admin_client_crm.post(upload_url(template), {"language": "XX", "file": docx_upload(valid_letter())})

    assert response.status_code == 400
    assert "“XX” is not a language you can upload a document for here." in text(response)


# --- Downloads -----------------------------------------------------------------------------------


def test_a_word_template_downloads_as_an_attachment(viewer_client, template):
    document = row(template, "ENU").document

    response = viewer_client.get(document_url(template, document))

    assert_download(response, file_name="SPRING.docx")
    assert downloaded(response) == document.read_bytes()


def test_a_download_name_is_made_safe(viewer_client, template):
    document = document_create(data=b"PK", file_name="x.docx")
    Document.objects.filter(pk=document.pk).update(file_name='x"\r\nSet-Cookie: a=b<c>.docx')
    document.refresh_from_db()
    InteractionTemplateLanguage.objects.filter(template=template, language_id="DEU").update(document=document)

    response = viewer_client.get(document_url(template, document))

    assert response.status_code == 200
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment; filename=")
    assert "\r" not in disposition and "\n" not in disposition and "<" not in disposition
    assert "Set-Cookie" not in response.cookies


def test_a_document_of_another_template_is_404(viewer_client, template):
    other = make_template("OTHER", language=make_language("ENU"))
    attach_word_template(other, "Other {{ contact.name }}")

    response = viewer_client.get(document_url(template, row(other, "ENU").document))

    assert response.status_code == 404


# --- An entry's documents (R72) ------------------------------------------------------------------


@pytest.fixture
def entry(template):
    entry = single(make_person(name="Anna de Vries", salesperson=make_salesperson("ANN")), template)
    letter = document_create(data=valid_letter("Dear Anna"), file_name="Anna de Vries.docx")
    InteractionLogEntry.objects.filter(pk=entry.pk).update(document=letter, word_template=row(template, "ENU").document)
    return InteractionLogEntry.objects.get(pk=entry.pk)


def test_entry_page_links_its_letter_and_the_word_template_it_was_merged_from(viewer_client, entry):
    response = viewer_client.get(entry.get_absolute_url())

    page = text(response)
    letter_url = reverse("interactions:entry_document", args=[entry.pk])
    template_url = reverse("interactions:entry_word_template", args=[entry.pk])
    assert f'<a href="{letter_url}" download>Anna de Vries.docx</a>' in page
    assert f'<a href="{template_url}" download>SPRING.docx</a>' in page


def test_entry_page_reads_no_document_bytes(viewer_client, entry, django_assert_max_num_queries):
    with django_assert_max_num_queries(12) as queries:
        viewer_client.get(entry.get_absolute_url())
    assert not any('"content"' in q["sql"] and "interactions_document" in q["sql"] for q in queries.captured_queries)


def test_entry_letter_and_word_template_download(viewer_client, entry):
    response = viewer_client.get(reverse("interactions:entry_document", args=[entry.pk]))
    assert_download(response, file_name="Anna de Vries.docx")
    assert downloaded(response) == Document.objects.get(pk=entry.document_id).read_bytes()

    response = viewer_client.get(reverse("interactions:entry_word_template", args=[entry.pk]))
    assert_download(response, file_name="SPRING.docx")


def test_entry_without_documents_shows_none_and_its_downloads_are_404(viewer_client, template):
    entry = single(make_person(salesperson=make_salesperson("ANN")), template)

    page = text(viewer_client.get(entry.get_absolute_url()))

    assert "No letter stored" in page
    assert viewer_client.get(reverse("interactions:entry_document", args=[entry.pk])).status_code == 404
    assert viewer_client.get(reverse("interactions:entry_word_template", args=[entry.pk])).status_code == 404


def test_entry_downloads_need_login_and_view_permission(client, entry):
    url = reverse("interactions:entry_document", args=[entry.pk])
    assert client.get(url)["Location"].startswith("/login/")
    from tests.conftest import make_user

    nobody = Client()
    nobody.force_login(make_user(None))
    assert nobody.get(url).status_code == 403
    assert nobody.get(LIST).status_code == 403
