"""Builders of .docx payloads for the Word-template tests, made at run time (no binaries in git)."""

from __future__ import annotations

import io
import re
import zipfile

import docx
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls, qn

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
EMPTY_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"></Relationships>'
)
FOOTNOTES_CT = "application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"


def docx_bytes(
    *paragraphs: str,
    header: str | None = None,
    footer: str | None = None,
    title: str | None = None,
    sections: int = 1,
) -> bytes:
    """A .docx whose body has one paragraph per text (each one run), and optionally a header,
    footer and title; `sections` > 1 adds section breaks."""
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if header is not None:
        document.sections[0].header.paragraphs[0].text = header
    if footer is not None:
        document.sections[0].footer.paragraphs[0].text = footer
    if title is not None:
        document.core_properties.title = title
    for _ in range(sections - 1):
        document.add_section()
        document.add_paragraph("Next section")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def rezip(data: bytes, replace: dict[str, bytes] | None = None, add: dict[str, bytes] | None = None) -> bytes:
    """The package with some members replaced and others added."""
    replace, add = replace or {}, add or {}
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, replace.get(info.filename, src.read(info)))
        for name, content in add.items():
            dst.writestr(name, content)
    return out.getvalue()


def member(data: bytes, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return zf.read(name)


def add_relationship(data: bytes, rel_type: str, target: str, *, external: bool, source: str = "word/document.xml"):
    """Add a relationship to `source`'s .rels; returns (package, rId)."""
    folder, _, name = source.rpartition("/")
    rels_name = f"{folder}/_rels/{name}.rels"
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        if rels_name in zf.namelist():
            rels = zf.read(rels_name).decode()
        else:
            rels = EMPTY_RELS
            data = rezip(data, add={rels_name: rels.encode()})
    rid = f"rIdTest{rels.count('<Relationship ') + 1}"
    mode = ' TargetMode="External"' if external else ""
    rels = rels.replace(
        "</Relationships>", f'<Relationship Id="{rid}" Type="{rel_type}" Target="{target}"{mode}/></Relationships>'
    )
    return rezip(data, replace={rels_name: rels.encode()}), rid


def with_body_xml(data: bytes, inner: str) -> bytes:
    """Replace the body's paragraphs by `inner` (WordprocessingML, `w:` prefix), keeping sectPr."""
    xml = member(data, "word/document.xml").decode()
    start = xml.index("<w:body>") + len("<w:body>")
    end = xml.index("<w:sectPr")
    return rezip(data, replace={"word/document.xml": (xml[:start] + inner + xml[end:]).encode()})


def with_content_type(data: bytes, part: str, content_type: str) -> bytes:
    xml = member(data, "[Content_Types].xml").decode()
    xml = re.sub(rf'(<Override PartName="{re.escape(part)}" ContentType=")[^"]*(")', rf"\g<1>{content_type}\g<2>", xml)
    return rezip(data, replace={"[Content_Types].xml": xml.encode()})


def with_footnotes(data: bytes, *texts: str) -> bytes:
    """Add a footnotes part holding one footnote per text (ids 1…), related from the document."""
    notes = "".join(
        f'<w:footnote w:id="{i}"><w:p><w:r><w:t xml:space="preserve">{text}</w:t></w:r></w:p></w:footnote>'
        for i, text in enumerate(texts, start=1)
    )
    xml = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:footnotes {nsdecls("w")}>{notes}</w:footnotes>'
    types = member(data, "[Content_Types].xml").decode()
    types = types.replace(
        "</Types>", f'<Override PartName="/word/footnotes.xml" ContentType="{FOOTNOTES_CT}"/></Types>'
    )
    data = rezip(data, replace={"[Content_Types].xml": types.encode()}, add={"word/footnotes.xml": xml.encode()})
    data, _ = add_relationship(data, RT.FOOTNOTES, "footnotes.xml", external=False)
    return data


def with_hyperlink(data: bytes, url: str, text: str) -> bytes:
    """A document with one paragraph holding a real hyperlink (w:hyperlink to an external rel)."""
    document = docx.Document(io.BytesIO(data))
    rid = document.part.relate_to(url, RT.HYPERLINK, is_external=True)
    paragraph = document.add_paragraph()
    link = parse_xml(f'<w:hyperlink {nsdecls("w", "r")} r:id="{rid}"><w:r><w:t>{text}</w:t></w:r></w:hyperlink>')
    paragraph._p.append(link)
    assert link.get(qn("r:id")) == rid
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def paragraph_texts(data: bytes) -> list[str]:
    return [p.text for p in docx.Document(io.BytesIO(data)).paragraphs]


def all_text(data: bytes) -> str:
    """Every member of the package as text (for "never appears anywhere" assertions)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return "\n".join(zf.read(name).decode("utf-8", "replace") for name in zf.namelist())
