"""A segment's Word documents and the letter of one line (segments/document_views.py): SPEC R14,
R66, R67, D9, D10.

The documents panel (the segment's language rows and the lines with their own document),
"Replace for this segment only" (the template's document and the segment's copy never change
each other), a line's own document, the HTML preview and .docx download of any line's letter
(escaped; the reason instead when it cannot be made), the role matrix, CSRF, a logged segment,
and the download headers."""

from __future__ import annotations

import io

import docx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from crm.permissions import COMMAND_LINE
from interactions.models import Document, InteractionTemplateLanguage, LoggedSegment
from interactions.ooxml import DOCX_CONTENT_TYPE
from interactions.wordtemplates import MAX_FILE_BYTES
from segments import services
from segments.documents import segment_line_document_set
from segments.models import SegmentLanguage, SegmentLine
from segments.services import log as log_services
from tests.factories import (
    attach_word_template,
    make_company,
    make_language,
    make_person,
    make_salesperson,
    make_salutation,
    make_template,
)
from tests.interactions.docx_builders import docx_bytes, paragraph_texts

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return response.content.decode()


def messages_of(response) -> list[str]:
    return [str(m) for m in response.wsgi_request._messages]


def docx_upload(data: bytes, name: str = "letter.docx") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=DOCX_CONTENT_TYPE)


@pytest.fixture
def world():
    """Template LETTER with an English (default) Word document and a French row without one; a
    segment of company Smith & <Sons> (no salutation), Anna (English) and Pierre (French)."""
    english, french = make_language("EN"), make_language("FR")
    salutation = make_salutation(
        "MS",
        {
            ("EN", "formal"): "Dear Ms %surname",
            ("EN", "informal"): "Dear %first_name",
            ("FR", "formal"): "Madame %surname",
            ("FR", "informal"): "Chère %first_name",
        },
    )
    template = make_template("LETTER", language=english, correspondence_type="")
    en_doc = attach_word_template(
        template, "{{ salutation_formal }},", "Hello {{ contact.name }} of {{ contact.company_name }}."
    )
    InteractionTemplateLanguage.objects.create(template=template, language=french, description="Lettre")
    seller = make_salesperson("ANN")
    company = make_company(no="C1", name="Smith & <Sons>", language=english, salesperson=seller)
    anna = make_person(
        company,
        no="P1",
        name="Anna de Vries",
        first_name="Anna",
        surname="de Vries",
        salutation=salutation,
        language=english,
        salesperson=seller,
    )
    pierre = make_person(
        company,
        no="P2",
        name="Pierre Dupont",
        surname="Dupont",
        salutation=salutation,
        language=french,
        salesperson=seller,
    )
    segment = services.segment_create(
        user=COMMAND_LINE, values={"description": "Letters", "interaction_template": template}
    )
    services.segment_add_contacts(user=COMMAND_LINE, segment=segment, query="company_no=C1")
    lines = {line.contact_id: line.line_no for line in SegmentLine.objects.filter(segment=segment)}
    return {
        "template": template,
        "segment": segment,
        "en_doc": en_doc,
        "line": {"company": lines[company.pk], "anna": lines[anna.pk], "pierre": lines[pierre.pk]},
        "anna": anna,
    }


def documents_url(segment) -> str:
    return reverse("segments:segment_documents", args=[segment.no])


def upload_url(segment) -> str:
    return reverse("segments:segment_document_upload", args=[segment.no])


def document_url(segment, document) -> str:
    return reverse("segments:segment_document", args=[segment.no, document.pk])


def letter_url(segment, line_no) -> str:
    return reverse("segments:line_letter", args=[segment.no, line_no])


def letter_download_url(segment, line_no) -> str:
    return reverse("segments:line_letter_download", args=[segment.no, line_no])


def line_upload_url(segment, line_no) -> str:
    return reverse("segments:line_document_upload", args=[segment.no, line_no])


def line_remove_url(segment, line_no) -> str:
    return reverse("segments:line_document_remove", args=[segment.no, line_no])


def segment_document(segment, language="EN") -> Document:
    return SegmentLanguage.objects.select_related("document").get(segment=segment, language_id=language).document


def template_document(template, language="EN") -> Document | None:
    return (
        InteractionTemplateLanguage.objects.select_related("document")
        .get(template=template, language_id=language)
        .document
    )


def language_row(page: str, language: str) -> str:
    start = page.index(f'<tr id="segment-language-{language}">')
    return page[start : page.index("</tr>", start)]


def assert_download(response, *, file_name: str) -> None:
    assert response.status_code == 200
    assert response["Content-Type"] == DOCX_CONTENT_TYPE
    assert response["Content-Disposition"] == f'attachment; filename="{file_name}"'
    assert response["X-Content-Type-Options"] == "nosniff"


# --- Role matrix, CSRF, a logged segment ---------------------------------------------------------


def read_urls(world) -> list[str]:
    segment, anna = world["segment"], world["line"]["anna"]
    return [
        documents_url(segment),
        document_url(segment, world["en_doc"]),
        letter_url(segment, anna),
        letter_download_url(segment, anna),
    ]


def write_requests(world) -> list[tuple[str, dict]]:
    segment, anna = world["segment"], world["line"]["anna"]
    return [
        (upload_url(segment), {"language": "EN", "file": docx_upload(docx_bytes("Hi {{ contact.name }}"))}),
        (line_upload_url(segment, anna), {"file": docx_upload(docx_bytes("Dear Anna, thanks."))}),
        (line_remove_url(segment, anna), {}),
    ]


def test_every_page_needs_login(client, world):
    for url in read_urls(world):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url
    for url, data in write_requests(world):
        response = client.post(url, data)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url
    assert Document.objects.count() == 1


@pytest.mark.parametrize("role_client", ["viewer_client", "marketing_client", "admin_client_crm"])
def test_every_role_reads_previews_and_downloads(request, role_client, world):
    client = request.getfixturevalue(role_client)
    for url in read_urls(world):
        assert client.get(url).status_code == 200, url


def test_a_viewer_gets_403_on_every_change_and_sees_no_upload_form(viewer_client, world):
    for url, data in write_requests(world):
        assert viewer_client.post(url, data).status_code == 403, url
    assert Document.objects.count() == 1
    for url in (documents_url(world["segment"]), letter_url(world["segment"], world["line"]["anna"])):
        assert 'enctype="multipart/form-data"' not in text(viewer_client.get(url))


@pytest.mark.parametrize("role_client", ["marketing_client", "admin_client_crm"])
def test_marketing_and_admins_change_documents(request, role_client, world):
    client = request.getfixturevalue(role_client)
    for url, data in write_requests(world):
        assert client.post(url, data).status_code == 302, url
    # The template's and the segment's new one; the replaced segment copy was the template's
    # (kept), the line's own document was removed again and deleted, nothing else used it.
    assert Document.objects.count() == 2


def test_a_post_without_csrf_token_is_refused(marketing, world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(marketing)
    for url, data in write_requests(world):
        assert client.post(url, data).status_code == 403, url
    assert Document.objects.count() == 1


def test_a_logged_segment_leads_to_its_logged_segment(marketing_client, world):
    segment = world["segment"]
    log_services.segment_log(user=COMMAND_LINE, segment=segment)
    logged = LoggedSegment.objects.get()

    for url in [*read_urls(world)[:1], *read_urls(world)[2:]]:
        response = marketing_client.get(url)
        assert response.status_code == 302 and response["Location"] == logged.get_absolute_url(), url
    for url, data in write_requests(world):
        response = marketing_client.post(url, data)
        assert response.status_code == 302 and response["Location"] == logged.get_absolute_url(), url
    assert messages_of(response)[-1].startswith(f"Segment {segment.no} was already logged by")


def test_an_unknown_line_is_404(viewer_client, world):
    assert viewer_client.get(letter_url(world["segment"], 999)).status_code == 404


# --- The documents panel -------------------------------------------------------------------------


def test_worksheet_loads_the_documents_panel_and_links_each_lines_letter(viewer_client, world):
    segment = world["segment"]

    page = text(viewer_client.get(segment.get_absolute_url()))

    assert f'hx-get="{documents_url(segment)}" hx-trigger="load"' in page
    assert f'href="{letter_url(segment, world["line"]["anna"])}"' in page


def test_documents_panel_lists_the_language_rows_with_their_documents(
    viewer_client, world, django_assert_max_num_queries
):
    segment = world["segment"]

    with django_assert_max_num_queries(10):
        response = viewer_client.get(
            documents_url(segment), headers={"HX-Request": "true", "HX-Target": "word-documents"}
        )

    page = text(response)
    assert response.status_code == 200
    assert "<html" not in page and page.lstrip().startswith('<section class="card word-documents" id="word-documents"')
    en = language_row(page, "EN")
    assert f'href="{document_url(segment, world["en_doc"])}" download>LETTER.docx</a>' in en
    assert "the template's" in en
    fr = language_row(page, "FR")
    assert "None: lines in this language cannot be merged" in fr


def test_documents_page_without_htmx_is_a_whole_page(viewer_client, world):
    page = text(viewer_client.get(documents_url(world["segment"])))
    assert "<html" in page and f"Word documents of {world['segment'].no}" in page


# --- Replace for this segment only (R66) ---------------------------------------------------------


def test_replacing_the_segments_document_leaves_the_templates_alone(marketing_client, world):
    segment, template = world["segment"], world["template"]
    data = docx_bytes("Special {{ contact.name }}")

    response = marketing_client.post(upload_url(segment), {"language": "EN", "file": docx_upload(data, "special.docx")})

    assert response.status_code == 302 and response["Location"] == segment.get_absolute_url() + "#word-documents"
    assert segment_document(segment).file_name == "special.docx"
    assert template_document(template).pk == world["en_doc"].pk
    assert messages_of(response)[0].startswith("Stored “special.docx” (")
    page = text(marketing_client.get(letter_url(segment, world["line"]["anna"])))
    assert "Special Anna de Vries" in page


def test_a_new_template_document_leaves_the_segments_copy_alone(viewer_client, world):
    segment, template = world["segment"], world["template"]

    attach_word_template(template, "Brand new {{ contact.name }}")

    assert segment_document(segment).pk == world["en_doc"].pk
    assert template_document(template).pk != world["en_doc"].pk
    page = text(viewer_client.get(documents_url(segment)))
    assert "this segment's own" in page
    assert "Hello Anna de Vries" in text(viewer_client.get(letter_url(segment, world["line"]["anna"])))


def test_upload_from_the_documents_page_returns_there(marketing_client, world):
    segment = world["segment"]
    data = {"language": "FR", "next": "documents", "file": docx_upload(docx_bytes("Bonjour {{ contact.name }}"))}

    response = marketing_client.post(upload_url(segment), data)

    assert response["Location"] == documents_url(segment)
    assert segment_document(segment, "FR").file_name == "letter.docx"
    assert template_document(world["template"], "FR") is None


def test_an_invalid_segment_document_lists_every_problem_and_stores_nothing(marketing_client, world):
    segment = world["segment"]
    data = docx_bytes("{{ contact.password }}", "{{ contact.name|attr('x') }}")

    response = marketing_client.post(upload_url(segment), {"language": "EN", "file": docx_upload(data)})

    assert response.status_code == 400
    assert Document.objects.count() == 1 and segment_document(segment).pk == world["en_doc"].pk
    page = text(response)
    en = language_row(page, "EN")
    assert "The document was not stored." in en
    problems = en[en.index("upload-problems") : en.index("</ul>")]
    assert "contact.password" in problems and "attr" in problems and problems.count("<li>") >= 2


def test_an_oversized_segment_document_is_refused_before_it_is_read(marketing_client, world):
    segment = world["segment"]
    data = b"x" * (MAX_FILE_BYTES + 1)

    response = marketing_client.post(upload_url(segment), {"language": "EN", "file": docx_upload(data)})

    assert response.status_code == 400
    assert "over the limit of 5.0\xa0MB. Nothing was stored." in text(response)
    assert "zip" not in text(response).lower()
    assert Document.objects.count() == 1


def test_a_language_the_segment_has_no_row_for_is_refused(marketing_client, world):
    make_language("DE")
    response = marketing_client.post(
        upload_url(world["segment"]), {"language": "DE", "file": docx_upload(docx_bytes("x"))}
    )

    assert response.status_code == 400
    assert "“DE” is not a language you can upload a document for here." in text(response)
    assert Document.objects.count() == 1


def test_a_document_of_another_segment_is_404(viewer_client, world):
    other = services.segment_create(user=COMMAND_LINE, values={"description": "Other"})
    services.segment_add_contact(user=COMMAND_LINE, segment=other, contact=world["anna"])

    line_no = SegmentLine.objects.get(segment=other).line_no
    document = segment_line_document_set(
        user=COMMAND_LINE, segment=other, line_no=line_no, data=docx_bytes("x"), file_name="o.docx"
    )

    assert viewer_client.get(document_url(world["segment"], document)).status_code == 404
    assert viewer_client.get(document_url(other, document)).status_code == 200


def test_a_segment_document_downloads_as_an_attachment(viewer_client, world):
    response = viewer_client.get(document_url(world["segment"], world["en_doc"]))

    assert_download(response, file_name="LETTER.docx")
    assert response.getvalue() == Document.objects.get(pk=world["en_doc"].pk).read_bytes()


# --- A line's letter -----------------------------------------------------------------------------


def test_preview_shows_the_contacts_name_and_salutation(viewer_client, world):
    segment = world["segment"]

    response = viewer_client.get(letter_url(segment, world["line"]["anna"]))

    page = text(response)
    assert response.status_code == 200
    assert "<p>Dear Ms de Vries,</p>" in page
    assert "<p>Hello Anna de Vries of Smith &amp; &lt;Sons&gt;.</p>" in page
    assert "The segment&#x27;s Word document for language EN." in page
    assert f'href="{letter_download_url(segment, world["line"]["anna"])}"' in page


def test_preview_escapes_markup_in_a_contacts_name(viewer_client, world):
    anna = world["anna"]
    anna.name = "<script>alert('x')</script>"
    anna.save(update_fields=["name"])

    page = text(viewer_client.get(letter_url(world["segment"], world["line"]["anna"])))

    assert "<script>alert" not in page
    assert (
        "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page or "&lt;script&gt;alert('x')&lt;/script&gt;" in page
    )


def test_a_line_without_a_word_document_shows_why(viewer_client, world):
    segment = world["segment"]

    response = viewer_client.get(letter_url(segment, world["line"]["pierre"]))

    page = text(response)
    assert response.status_code == 200
    assert "This line's letter cannot be made:" in page
    assert "Interaction template &quot;LETTER&quot; has no Word document for language FR (1 line)" in page
    assert "None: LETTER has no Word document for language FR." in page
    assert letter_download_url(segment, world["line"]["pierre"]) not in page


def test_a_missing_salutation_formula_shows_why(viewer_client, world):
    page = text(viewer_client.get(letter_url(world["segment"], world["line"]["company"])))

    assert "This line's letter cannot be made:" in page
    assert (
        "C1 Smith &amp; &lt;Sons&gt;: no formal salutation formula for salutation code (none) in language EN." in page
    )


def test_downloading_a_letter_that_cannot_be_made_returns_to_the_letter_page_with_the_reason(viewer_client, world):
    segment, line_no = world["segment"], world["line"]["pierre"]

    response = viewer_client.get(letter_download_url(segment, line_no))

    assert response.status_code == 302 and response["Location"] == letter_url(segment, line_no)
    assert "has no Word document for language FR" in messages_of(response)[0]


def test_a_letter_downloads_as_docx_named_after_company_and_contact(viewer_client, world):
    response = viewer_client.get(letter_download_url(world["segment"], world["line"]["anna"]))

    assert_download(response, file_name="Smith & _Sons_ - Anna de Vries.docx")
    document = docx.Document(io.BytesIO(response.content))
    texts = [paragraph.text for paragraph in document.paragraphs]
    assert texts[:2] == ["Dear Ms de Vries,", "Hello Anna de Vries of Smith & <Sons>."]


# --- A line's own document (R67) -----------------------------------------------------------------


def test_a_lines_own_document_is_used_by_its_preview_and_download(marketing_client, world):
    segment, line_no = world["segment"], world["line"]["anna"]
    own = docx_bytes("Dear Anna, thank you for {{ line.subject|default('your visit') }}.")

    response = marketing_client.post(line_upload_url(segment, line_no), {"file": docx_upload(own, "anna.docx")})

    assert response.status_code == 302 and response["Location"] == letter_url(segment, line_no)
    line = SegmentLine.objects.select_related("document").get(segment=segment, line_no=line_no)
    assert line.document.file_name == "anna.docx"
    assert segment_document(segment).pk == world["en_doc"].pk
    page = text(marketing_client.get(letter_url(segment, line_no)))
    assert "<p>Dear Anna, thank you for your visit.</p>" in page and "Hello Anna" not in page
    assert "This line&#x27;s own document." in page
    download = marketing_client.get(letter_download_url(segment, line_no))
    assert paragraph_texts(download.content)[0] == "Dear Anna, thank you for your visit."
    worksheet = text(marketing_client.get(segment.get_absolute_url()))
    assert 'title="This line has its own Word document">own doc.</span>' in worksheet
    panel = text(marketing_client.get(documents_url(segment)))
    assert f'href="{document_url(segment, line.document)}" download>anna.docx</a>' in panel


def test_removing_a_lines_own_document_uses_the_segments_again(marketing_client, world):
    segment, line_no = world["segment"], world["line"]["anna"]
    marketing_client.post(line_upload_url(segment, line_no), {"file": docx_upload(docx_bytes("Own letter"))})

    response = marketing_client.post(line_remove_url(segment, line_no))

    assert response.status_code == 302
    assert SegmentLine.objects.get(segment=segment, line_no=line_no).document_id is None
    assert "Hello Anna de Vries" in text(marketing_client.get(letter_url(segment, line_no)))
    assert messages_of(response)[-1] == (
        f"Removed line {line_no}'s own Word document; its letter is merged from the segment's again."
    )


def test_an_invalid_line_document_is_listed_and_not_stored(marketing_client, world):
    segment, line_no = world["segment"], world["line"]["anna"]

    response = marketing_client.post(
        line_upload_url(segment, line_no), {"file": docx_upload(docx_bytes("{% for x in y %}{% endfor %}"))}
    )

    assert response.status_code == 400
    page = text(response)
    assert "The document was not stored." in page and "upload-problems" in page
    assert SegmentLine.objects.get(segment=segment, line_no=line_no).document_id is None
    assert Document.objects.count() == 1
    assert "<p>Dear Ms de Vries,</p>" in page  # the preview is still there


def test_an_oversized_line_document_is_refused(marketing_client, world):
    segment, line_no = world["segment"], world["line"]["anna"]

    response = marketing_client.post(
        line_upload_url(segment, line_no), {"file": docx_upload(b"x" * (MAX_FILE_BYTES + 1), "big.docx")}
    )

    assert response.status_code == 400
    assert "over the limit" in text(response)
    assert Document.objects.count() == 1
