"""Letters as files (interactions/letters.py): the combined .docx, the .zip, file names, HTML.

The combined document is opened with python-docx and read back as XML: one letter per page (a
section break after each letter but the last, each letter's first section on a new page), the
relationships of letters from other documents (image, hyperlink, header) remapped so they
resolve, parts copied once, ids unique, notes and list numbering carried over.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import docx
import pytest
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls
from docx.shared import Cm
from lxml import etree

from interactions.letters import combine_docx, letter_file_name, letter_html, zip_letters
from tests.interactions.docx_builders import docx_bytes, member, rezip, with_body_xml, with_footnotes, with_hyperlink

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
NS_A = "http://schemas.openxmlformats.org/drawingml/2006/main"
NS = {"w": W, "r": R, "wp": "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"}


def png(width: int = 2, height: int = 2, colour: bytes = b"\xff\x00\x00") -> bytes:
    """A small valid PNG made here (no binary files in git)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + colour * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def picture_letter(*paragraphs: str, image: bytes | None = None, link: str | None = None, header_image=False) -> bytes:
    """A letter with paragraphs, an inline picture, optionally a hyperlink and a header logo."""
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    document.add_picture(io.BytesIO(image or png()), width=Cm(1))
    if header_image:
        document.sections[0].header.paragraphs[0].add_run().add_picture(io.BytesIO(png(3, 3)), width=Cm(1))
    out = io.BytesIO()
    document.save(out)
    data = out.getvalue()
    return with_hyperlink(data, link, "our site") if link else data


def combine(*letters: bytes) -> bytes:
    out = io.BytesIO()
    assert combine_docx(iter(letters), out) == len(letters)
    return out.getvalue()


def document_xml(data: bytes) -> etree._Element:
    return etree.fromstring(member(data, "word/document.xml"))


def body_sections(data: bytes) -> list[etree._Element]:
    """Every section's properties in document order (the body's last)."""
    return document_xml(data).xpath("//w:sectPr", namespaces=NS)


def test_letters_follow_each_other_one_per_page():
    letters = [docx_bytes(f"Dear {name},", f"Letter for {name}.") for name in ("Anna", "Bob", "Cleo")]

    combined = combine(*letters)

    document = docx.Document(io.BytesIO(combined))
    assert [p.text for p in document.paragraphs] == [
        "Dear Anna,",
        "Letter for Anna.",
        "Dear Bob,",
        "Letter for Bob.",
        "Dear Cleo,",
        "Letter for Cleo.",
    ]
    assert len(document.sections) == 3
    root = document_xml(combined)
    # A section break ends each letter but the last, in the letter's last paragraph.
    breaks = root.xpath("/w:document/w:body/w:p/w:pPr/w:sectPr", namespaces=NS)
    assert len(breaks) == 2
    assert [b.getparent().getparent().xpath("string(.)") for b in breaks] == ["Letter for Anna.", "Letter for Bob."]
    assert root.xpath("/w:document/w:body/*[last()]", namespaces=NS)[0].tag == f"{{{W}}}sectPr"
    for section in body_sections(combined):
        kind = section.find(f"{{{W}}}type")
        assert kind is None or kind.get(f"{{{W}}}val") in ("nextPage", "oddPage", "evenPage")
        assert section.find(f"{{{W}}}pgNumType").get(f"{{{W}}}start") == "1"


def test_a_continuous_first_section_still_starts_a_new_page():
    letter = docx_bytes("Second letter")
    xml = member(letter, "word/document.xml").decode().replace("<w:pgSz ", '<w:type w:val="continuous"/><w:pgSz ')
    continuous = rezip(letter, replace={"word/document.xml": xml.encode()})

    combined = combine(docx_bytes("First letter"), continuous)

    kinds = [s.find(f"{{{W}}}type") for s in body_sections(combined)]
    assert kinds[1] is not None and kinds[1].get(f"{{{W}}}val") == "nextPage"
    docx.Document(io.BytesIO(combined))


def test_each_letter_keeps_its_own_page_setup_and_header():
    portrait = docx_bytes("Portrait letter", header="Header A")
    document = docx.Document(io.BytesIO(docx_bytes("Landscape letter", header="Header B")))
    section = document.sections[0]
    section.page_width, section.page_height = section.page_height, section.page_width
    out = io.BytesIO()
    document.save(out)

    combined = docx.Document(io.BytesIO(combine(portrait, out.getvalue())))

    first, second = combined.sections
    assert first.page_width < first.page_height and second.page_width > second.page_height
    assert first.header.paragraphs[0].text == "Header A"
    assert second.header.paragraphs[0].text == "Header B"


def test_a_letter_without_a_header_after_one_with_a_header_gets_an_empty_one():
    combined = docx.Document(io.BytesIO(combine(docx_bytes("With", header="Our header"), docx_bytes("Without"))))

    assert combined.sections[0].header.paragraphs[0].text == "Our header"
    assert not combined.sections[1].header.is_linked_to_previous
    assert "".join(p.text for p in combined.sections[1].header.paragraphs) == ""


def test_letters_from_another_document_keep_their_image_hyperlink_and_header_logo():
    plain = docx_bytes("Plain letter in English")
    pictured = [
        picture_letter(
            f"Lettre {n}", link="https://example.com/fr", header_image=True, image=png(4, 4, b"\x00\x80\x00")
        )
        for n in (1, 2)
    ]

    combined = combine(plain, pictured[0], plain, pictured[1])

    document = docx.Document(io.BytesIO(combined))  # every relationship resolves, or this raises
    part = document.part
    blips = document_xml(combined).xpath("//a:blip/@r:embed", namespaces={**NS, "a": NS_A})
    assert len(blips) == 2
    images = {part.related_parts[rid].blob for rid in blips}
    assert images == {png(4, 4, b"\x00\x80\x00")}  # the picture itself, copied once
    links = document_xml(combined).xpath("//w:hyperlink/@r:id", namespaces=NS)
    assert len(links) == 2 and {part.rels[rid].target_ref for rid in links} == {"https://example.com/fr"}
    assert all(part.rels[rid].is_external for rid in links)
    names = zipfile.ZipFile(io.BytesIO(combined)).namelist()
    media = [name for name in names if "/media/" in name]
    assert len(media) == 2, media  # the picture and the header logo, once each
    assert len(names) == len(set(names))
    types = member(combined, "[Content_Types].xml").decode()
    assert 'Extension="png"' in types or all(f'PartName="/{name}"' in types for name in media)
    headers = [section.header for section in document.sections]
    assert [len(h.part.related_parts) for h in headers] == [0, 1, 0, 1]
    logo = next(iter(headers[1].part.related_parts.values()))
    assert logo.blob == png(3, 3)
    assert headers[1].part is headers[3].part  # same header content: one part


def test_drawing_and_bookmark_ids_are_unique():
    document = docx.Document(io.BytesIO(picture_letter("Marked")))
    paragraph = document.paragraphs[0]._p
    paragraph.insert(0, parse_xml(f'<w:bookmarkStart {nsdecls("w")} w:id="0" w:name="here"/>'))
    paragraph.append(parse_xml(f'<w:bookmarkEnd {nsdecls("w")} w:id="0"/>'))
    out = io.BytesIO()
    document.save(out)

    root = document_xml(combine(out.getvalue(), out.getvalue(), out.getvalue()))

    docpr = root.xpath("//wp:docPr/@id", namespaces=NS)
    assert len(docpr) == 3 and len(set(docpr)) == 3
    starts = root.xpath("//w:bookmarkStart/@w:id", namespaces=NS)
    ends = root.xpath("//w:bookmarkEnd/@w:id", namespaces=NS)
    assert len(starts) == 3 and len(set(starts)) == 3 and starts == ends


def test_footnotes_of_every_letter_are_kept_with_new_ids():
    def noted(text: str) -> bytes:
        data = with_footnotes(docx_bytes("x"), f"Note of {text}")
        return with_body_xml(data, f'<w:p><w:r><w:t>{text}</w:t></w:r><w:r><w:footnoteReference w:id="1"/></w:r></w:p>')

    combined = combine(noted("first"), noted("second"), docx_bytes("no note"))

    root = document_xml(combined)
    references = root.xpath("//w:footnoteReference/@w:id", namespaces=NS)
    assert len(set(references)) == 2
    notes = etree.fromstring(member(combined, "word/footnotes.xml"))
    texts = {n.get(f"{{{W}}}id"): n.xpath("string(.)") for n in notes.findall(f"{{{W}}}footnote")}
    assert [texts[ref] for ref in references] == ["Note of first", "Note of second"]
    docx.Document(io.BytesIO(combined))


def test_list_numbering_of_another_template_gets_its_own_definitions():
    base = docx_bytes("Base")
    other = docx_bytes("Other")
    numbering = member(other, "word/numbering.xml").decode()
    numbering = numbering.replace("</w:numbering>", "") + (
        '<w:abstractNum w:abstractNumId="77"><w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="upperRoman"/>'
        '<w:lvlText w:val="%1."/></w:lvl></w:abstractNum><w:num w:numId="77"><w:abstractNumId w:val="77"/></w:num>'
        "</w:numbering>"
    )
    other = rezip(other, replace={"word/numbering.xml": numbering.encode()})
    other = with_body_xml(
        other,
        '<w:p><w:pPr><w:numPr><w:ilvl w:val="0"/><w:numId w:val="77"/></w:numPr></w:pPr><w:r><w:t>I</w:t></w:r></w:p>',
    )

    combined = combine(base, other)

    num_id = document_xml(combined).xpath("string(//w:numPr/w:numId/@w:val)", namespaces=NS)
    result = etree.fromstring(member(combined, "word/numbering.xml"))
    num = result.xpath(f"w:num[@w:numId='{num_id}']", namespaces=NS)
    assert len(num) == 1
    abstract_id = num[0].xpath("string(w:abstractNumId/@w:val)", namespaces=NS)
    abstract = result.xpath(f"w:abstractNum[@w:abstractNumId='{abstract_id}']", namespaces=NS)
    assert abstract[0].xpath("string(.//w:numFmt/@w:val)", namespaces=NS) == "upperRoman"
    ids = result.xpath("w:num/@w:numId", namespaces=NS)
    assert len(ids) == len(set(ids))
    docx.Document(io.BytesIO(combined))


def test_a_style_only_another_template_defines_is_added():
    other = docx_bytes("Other")
    styles = member(other, "word/styles.xml").decode()
    styles = styles.replace(
        "</w:styles>",
        '<w:style w:type="paragraph" w:styleId="Fancy"><w:name w:val="Fancy"/><w:rPr><w:i/></w:rPr></w:style>'
        "</w:styles>",
    )
    other = rezip(other, replace={"word/styles.xml": styles.encode()})
    other = with_body_xml(other, '<w:p><w:pPr><w:pStyle w:val="Fancy"/></w:pPr><w:r><w:t>Fancy</w:t></w:r></w:p>')

    combined = docx.Document(io.BytesIO(combine(docx_bytes("Base"), other)))

    assert combined.paragraphs[-1].style.name == "Fancy"


def test_the_letters_are_read_one_at_a_time():
    consumed = []

    def letters():
        for n in range(5):
            consumed.append(n)
            yield docx_bytes(f"Letter {n}")

    out = io.BytesIO()
    assert combine_docx(letters(), out) == 5
    assert consumed == [0, 1, 2, 3, 4]
    assert len(docx.Document(io.BytesIO(out.getvalue())).sections) == 5


def test_no_letters_is_an_error():
    with pytest.raises(ValueError, match="no letters"):
        combine_docx(iter(()), io.BytesIO())


def test_a_single_letter_is_a_valid_document():
    combined = docx.Document(io.BytesIO(combine(docx_bytes("Only", header="H"))))
    assert [p.text for p in combined.paragraphs] == ["Only"] and len(combined.sections) == 1


# --- HTML ----------------------------------------------------------------------------------------


def test_letter_html_escapes_every_text():
    letter = docx_bytes("<script>alert(1)</script>", "Smith & <Sons>")

    text = letter_html(letter)

    assert "<script>" not in text
    assert "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>" in text
    assert "<p>Smith &amp; &lt;Sons&gt;</p>" in text


def test_letter_html_keeps_headings_bold_and_line_breaks():
    document = docx.Document()
    document.add_heading("Spring news", level=1)
    paragraph = document.add_paragraph()
    paragraph.add_run("Bold").bold = True
    paragraph.add_run(" and plain\nsecond line")
    document.add_paragraph()
    out = io.BytesIO()
    document.save(out)

    text = letter_html(out.getvalue())

    assert "<h1>Spring news</h1>" in text
    assert "<p><strong>Bold</strong> and plain<br>second line</p>" in text
    assert text.endswith("<p><br></p>")


def test_letter_html_drops_links_and_attributes():
    text = letter_html(with_hyperlink(docx_bytes("x"), "javascript:alert(1)", "click"))
    assert "click" in text and "javascript" not in text and "href" not in text


# --- File names and the zip ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "company", "expected"),
    [
        ("Anna de Vries", "Smith & Sons", "Smith & Sons - Anna de Vries.docx"),
        ("Smith & Sons", "", "Smith & Sons.docx"),
        ("../../etc/passwd", "", "_.._etc_passwd.docx"),
        ('A<b>:c"d|e?f*g\\h', "", "A_b_c_d_e_f_g_h.docx"),
        ("Line\nbreak\x00and\ttab", "", "Line break and tab.docx"),
        ("CON", "", "_CON.docx"),
        ("lpt1", "", "_lpt1.docx"),
        ("  trailing dots... ", "", "trailing dots.docx"),
        ("", "", "letter.docx"),
        ("...", "", "letter.docx"),
        ("Zoë Ñúñez", "Café", "Café - Zoë Ñúñez.docx"),
    ],
)
def test_letter_file_names_are_safe(name, company, expected):
    assert letter_file_name(name, company) == expected


def test_letter_file_names_are_length_limited():
    name = letter_file_name("N" * 500, "C" * 500)
    assert name.endswith(".docx") and len(name) <= 125


def test_zip_names_are_unique_and_hold_each_letter():
    letters = [("Anna.docx", b"one"), ("anna.docx", b"two"), ("Anna.docx", b"three"), ("Bob.docx", b"four")]
    out = io.BytesIO()

    assert zip_letters(iter(letters), out) == 4

    archive = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    assert archive.namelist() == ["Anna.docx", "anna (2).docx", "Anna (3).docx", "Bob.docx"]
    assert [archive.read(name) for name in archive.namelist()] == [b"one", b"two", b"three", b"four"]
