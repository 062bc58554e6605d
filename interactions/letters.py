"""Merged letters as files: one combined .docx to print, a .zip of one .docx per letter, file
names, and an HTML view of a letter (SPEC D9, R69, R70; issue 6 "Hard copy").

`combine_docx` builds one package with one letter per page by copying each letter's
`<w:body>` into the first letter's package, never by opening each letter with python-docx. It
streams: letters are read one at a time (only the letter being copied and the one before it
are parsed at any moment) and the combined body is compressed into the output as it grows.

What the combined document keeps of each letter:
- its body, and its section properties: every letter ends with a section break carrying its
  own page size, margins, headers and footers, so letters made from different templates
  (lines in different languages) keep their own page set-up; each letter's first section starts
  on a new page and restarts page numbering at 1;
- the parts its body refers to (images, headers, footers, charts, …) and its hyperlinks: each
  relationship id is remapped to a relationship of the combined package; a part is copied once
  however many letters use it (parts are compared by content, including the parts they refer
  to), with its content type;
- its footnotes and endnotes (renumbered), its list numbering (a template's lists get their
  own numbering definitions when its numbering differs from the first letter's) and the styles
  the first letter's template lacks (a style both templates define keeps the first one's
  definition, as does the document's default font);
- unique drawing ids (`wp:docPr/@id`) and bookmark ids. Comments of letters after the first are
  dropped (their comment part is not copied), as are Word's paragraph ids (`w14:paraId`,
  optional, and identical in every letter of a template).

The packages come from our own render (`interactions.wordtemplates`) of checked templates; XML
is still parsed with a parser that loads no DTD and resolves no entities.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import html
import io
import posixpath
import re
import time
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO
from xml.sax.saxutils import quoteattr

from lxml import etree

from .ooxml import CT_FOOTER, CT_FOOTNOTES, CT_HEADER, PARSER

# --- Namespaces ----------------------------------------------------------------------------------

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
R_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
WP_NS = "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"
W14_NS = "http://schemas.microsoft.com/office/word/2010/wordml"
MC_NS = "http://schemas.openxmlformats.org/markup-compatibility/2006"
PKG_RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CT_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
RT = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
RT_OFFICE_DOCUMENT = RT + "officeDocument"
RT_HEADER, RT_FOOTER = RT + "header", RT + "footer"
RT_NUMBERING, RT_STYLES = RT + "numbering", RT + "styles"
RT_FOOTNOTES, RT_ENDNOTES = RT + "footnotes", RT + "endnotes"
CT_NUMBERING = "application/vnd.openxmlformats-officedocument.wordprocessingml.numbering+xml"
CT_ENDNOTES = "application/vnd.openxmlformats-officedocument.wordprocessingml.endnotes+xml"
ZIP_CONTENT_TYPE = "application/zip"


def _w(name: str) -> str:
    return f"{{{W_NS}}}{name}"


W_BODY, W_P, W_PPR, W_SECTPR, W_TYPE, W_PGNUMTYPE = map(_w, ("body", "p", "pPr", "sectPr", "type", "pgNumType"))
W_PPRCHANGE, W_VAL, W_ID, W_START, W_NUMID = map(_w, ("pPrChange", "val", "id", "start", "numId"))
W_HEADERREF, W_FOOTERREF = _w("headerReference"), _w("footerReference")
W_BOOKMARKSTART, W_BOOKMARKEND = _w("bookmarkStart"), _w("bookmarkEnd")
W_FOOTNOTEREF, W_ENDNOTEREF = _w("footnoteReference"), _w("endnoteReference")
W_COMMENTS = {_w("commentRangeStart"), _w("commentRangeEnd"), _w("commentReference")}
WP_DOCPR = f"{{{WP_NS}}}docPr"
W14_PARAID, W14_TEXTID = f"{{{W14_NS}}}paraId", f"{{{W14_NS}}}textId"
R_PREFIX = f"{{{R_NS}}}"
MC_IGNORABLE = f"{{{MC_NS}}}Ignorable"

# The namespaces Word declares on a document's root element: the combined document declares
# them all, so the body of a letter from another template needs no declarations of its own.
WORD_NAMESPACES = {
    "wpc": "http://schemas.microsoft.com/office/word/2010/wordprocessingCanvas",
    "mc": MC_NS,
    "o": "urn:schemas-microsoft-com:office:office",
    "r": R_NS,
    "m": "http://schemas.openxmlformats.org/officeDocument/2006/math",
    "v": "urn:schemas-microsoft-com:vml",
    "wp14": "http://schemas.microsoft.com/office/word/2010/wordprocessingDrawing",
    "wp": WP_NS,
    "w10": "urn:schemas-microsoft-com:office:word",
    "w": W_NS,
    "w14": W14_NS,
    "w15": "http://schemas.microsoft.com/office/word/2012/wordml",
    "w16cex": "http://schemas.microsoft.com/office/word/2018/wordml/cex",
    "w16cid": "http://schemas.microsoft.com/office/word/2016/wordml/cid",
    "w16": "http://schemas.microsoft.com/office/word/2018/wordml",
    "w16du": "http://schemas.microsoft.com/office/word/2023/wordml/word16du",
    "w16sdtdh": "http://schemas.microsoft.com/office/word/2020/wordml/sdtdatahash",
    "w16se": "http://schemas.microsoft.com/office/word/2015/wordml/symex",
    "wpg": "http://schemas.microsoft.com/office/word/2010/wordprocessingGroup",
    "wpi": "http://schemas.microsoft.com/office/word/2010/wordprocessingInk",
    "wne": "http://schemas.microsoft.com/office/word/2006/wordml",
    "wps": "http://schemas.microsoft.com/office/word/2010/wordprocessingShape",
    "a": "http://schemas.openxmlformats.org/drawingml/2006/main",
    "pic": "http://schemas.openxmlformats.org/drawingml/2006/picture",
}
WORD_IGNORABLE = ("w14", "w15", "w16se", "w16cid", "w16", "w16cex", "w16sdtdh", "w16du", "wp14")

_XML_DECLARATION = b"<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n"
# Every element of a letter's body the combination changes, in document order.
_INTERESTING = etree.XPath(
    "descendant::wp:docPr | descendant::w:bookmarkStart | descendant::w:bookmarkEnd | descendant::w:sectPr"
    " | descendant::w:footnoteReference | descendant::w:endnoteReference | descendant::w:commentRangeStart"
    " | descendant::w:commentRangeEnd | descendant::w:commentReference | descendant::w:numPr/w:numId"
    " | descendant::*[@r:*] | descendant::*[@w14:paraId or @w14:textId]",
    namespaces={"w": W_NS, "wp": WP_NS, "r": R_NS, "w14": W14_NS},
)
# sectPr children, in schema order (CT_SectPr): where a new child goes.
_SECTPR_ORDER = [
    _w(name)
    for name in (
        "headerReference",
        "footerReference",
        "footnotePr",
        "endnotePr",
        "type",
        "pgSz",
        "pgMar",
        "paperSrc",
        "pgBorders",
        "lnNumType",
        "pgNumType",
        "cols",
        "formProt",
        "vAlign",
        "noEndnote",
        "titlePg",
        "textDirection",
        "bidi",
        "rtlGutter",
        "docGrid",
        "printerSettings",
        "sectPrChange",
    )
]
_SPLIT = "@@combined-letters-go-here@@"
DOCPR_FIRST_ID = 1_000_001  # above the small ids Word gives drawings in headers and footers


def _parse(data: bytes) -> etree._Element:
    return etree.fromstring(data, PARSER)


# --- Reading one package --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rel:
    type: str
    target: str  # a part name (no leading "/") or, when external, the target as written
    external: bool
    written: str  # the Target attribute as written


def _rels_name(part: str) -> str:
    folder, _, name = part.rpartition("/")
    return f"{folder}/_rels/{name}.rels" if folder else f"_rels/{name}.rels"


def _resolve(source_part: str, target: str) -> str:
    if target.startswith("/"):
        return posixpath.normpath(target).lstrip("/")
    folder = posixpath.dirname(source_part)
    return posixpath.normpath(posixpath.join(folder, target)).lstrip("/")


class _Package:
    """One letter's .docx: member lookup, contents, and a cheap identity of each member (CRC,
    size and a hash of its compressed bytes, read through the zip directory)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.zf = zipfile.ZipFile(io.BytesIO(data))
        self.infos = {info.filename: info for info in self.zf.infolist()}

    def has(self, name: str) -> bool:
        return name in self.infos

    def read(self, name: str) -> bytes:
        return self.zf.read(self.infos[name])

    def key(self, name: str) -> tuple:
        info = self.infos[name]
        offset = info.header_offset
        header = self.data[offset : offset + 30]
        if header[:4] != b"PK\x03\x04":
            raise zipfile.BadZipFile(f"{name}: bad local header")
        start = offset + 30 + int.from_bytes(header[26:28], "little") + int.from_bytes(header[28:30], "little")
        digest = hashlib.blake2b(memoryview(self.data)[start : start + info.compress_size], digest_size=16).digest()
        return (info.CRC, info.file_size, info.compress_type, digest)


# --- Relationships and content types of the combined package ---------------------------------------


class _RelsOut:
    """The relationships of one part of the combined package: the base letter's, plus new ones
    (found again by type and target, so each target is related once)."""

    def __init__(self, source_part: str, rels: dict[str, _Rel] | None = None) -> None:
        self.source = source_part
        self.rels: dict[str, _Rel] = dict(rels or {})
        self.index = {(rel.type, rel.target, rel.external): rid for rid, rel in self.rels.items()}
        self.changed = False
        self._next = 0

    def get(self, type_: str, target: str, external: bool) -> str:
        rid = self.index.get((type_, target, external))
        if rid is None:
            while True:
                self._next += 1
                rid = f"rIdLt{self._next}"
                if rid not in self.rels:
                    break
            written = target if external else posixpath.relpath(target, posixpath.dirname(self.source) or ".")
            self.rels[rid] = _Rel(type_, target, external, written)
            self.index[(type_, target, external)] = rid
            self.changed = True
        return rid

    def xml(self) -> bytes:
        return _rels_xml(self.rels)


def _rels_xml(rels: dict[str, _Rel]) -> bytes:
    items = "".join(
        f"<Relationship Id={quoteattr(rid)} Type={quoteattr(rel.type)} Target={quoteattr(rel.written)}"
        + (' TargetMode="External"' if rel.external else "")
        + "/>"
        for rid, rel in rels.items()
    )
    return _XML_DECLARATION + f'<Relationships xmlns="{PKG_RELS_NS}">{items}</Relationships>'.encode()


def _read_rels(data: bytes, source_part: str) -> dict[str, _Rel]:
    rels = {}
    for element in _parse(data):
        if element.tag != f"{{{PKG_RELS_NS}}}Relationship":
            continue
        written = element.get("Target", "")
        external = element.get("TargetMode", "").lower() == "external"
        target = written if external else _resolve(source_part, written)
        rels[element.get("Id", "")] = _Rel(element.get("Type", ""), target, external, written)
    return rels


@dataclass
class _ContentTypes:
    defaults: dict[str, str]  # extension (lower case) → content type
    overrides: dict[str, str]  # part name (lower case, no leading "/") → content type

    @classmethod
    def read(cls, data: bytes) -> _ContentTypes:
        defaults, overrides = {}, {}
        for element in _parse(data):
            if element.tag == f"{{{CT_NS}}}Default":
                defaults[element.get("Extension", "").lower()] = element.get("ContentType", "")
            elif element.tag == f"{{{CT_NS}}}Override":
                overrides[element.get("PartName", "").lstrip("/").lower()] = element.get("ContentType", "")
        return cls(defaults, overrides)

    def of(self, part: str) -> str:
        part = part.lower()
        return self.overrides.get(part) or self.defaults.get(part.rpartition(".")[2], "application/octet-stream")

    def xml(self, names: dict[str, str]) -> bytes:
        """`names` maps lower-case part names to their names as written."""
        items = [
            f"<Default Extension={quoteattr(ext)} ContentType={quoteattr(ct)}/>" for ext, ct in self.defaults.items()
        ]
        items += [
            f"<Override PartName={quoteattr('/' + names.get(part, part))} ContentType={quoteattr(ct)}/>"
            for part, ct in self.overrides.items()
        ]
        return _XML_DECLARATION + f'<Types xmlns="{CT_NS}">{"".join(items)}</Types>'.encode()


# --- Notes, numbering and styles of letters from other templates -----------------------------------


class _Notes:
    """Footnotes or endnotes: the base letter's part, plus the notes of later letters with
    new ids."""

    def __init__(self, kind: str, rel_type: str, content_type: str) -> None:
        self.kind, self.rel_type, self.content_type = kind, rel_type, content_type
        self.part: str | None = None  # in the combined package
        self.rels: _RelsOut | None = None
        self.base_xml: bytes | None = None
        self.added: list[bytes] = []
        self.next_id = 1
        self.letter_package: _Package | None = None
        self.letter_trees: dict[str, etree._Element] = {}

    def start(self, part: str, xml: bytes, rels: dict[str, _Rel]) -> None:
        self.part, self.base_xml, self.rels = part, xml, _RelsOut(part, rels)
        ids = [int(n.get(W_ID, "0")) for n in _parse(xml) if n.tag == _w(self.kind)]
        self.next_id = max([0, *ids]) + 1

    def create(self, part: str, template_xml: bytes) -> None:
        """A new notes part holding the separators of a letter's notes part."""
        root = _parse(template_xml)
        for note in list(root):
            if note.get(_w("type")) in (None, "normal"):
                root.remove(note)
        self.start(part, etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True), {})

    def xml(self) -> bytes:
        root = _parse(self.base_xml)
        for data in self.added:
            root.append(_parse(data))
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


class _Numbering:
    """List numbering of letters whose template's numbering differs from the first letter's:
    their definitions are added with new ids, and their paragraphs' numIds mapped to them."""

    def __init__(self) -> None:
        self.part: str | None = None
        self.base_key: tuple | None = None
        self.base_xml: bytes | None = None
        self.maps: dict[tuple, dict[str, str]] = {}
        self.abstracts: list[bytes] = []
        self.nums: list[bytes] = []
        self.next_abstract = self.next_num = 1

    def start(self, part: str | None, key: tuple | None, xml: bytes | None) -> None:
        self.part, self.base_key, self.base_xml = part, key, xml
        if xml is not None:
            root = _parse(xml)
            abstracts = [int(e.get(_w("abstractNumId"), "0")) for e in root.iter(_w("abstractNum"))]
            nums = [int(e.get(_w("numId"), "0")) for e in root.iter(_w("num"))]
            self.next_abstract, self.next_num = max([-1, *abstracts]) + 1, max([0, *nums]) + 1

    def mapping(self, key: tuple, xml: bytes) -> dict[str, str]:
        """numId → new numId for a letter's numbering part (`key` identifies it)."""
        found = self.maps.get(key)
        if found is not None:
            return found
        root = _parse(xml)
        abstract_ids: dict[str, str] = {}
        for abstract in root.iter(_w("abstractNum")):
            new = str(self.next_abstract)
            self.next_abstract += 1
            abstract_ids[abstract.get(_w("abstractNumId"), "")] = new
            abstract.set(_w("abstractNumId"), new)
            self.abstracts.append(etree.tostring(abstract))
        mapping = {"0": "0"}
        for num in root.iter(_w("num")):
            new = str(self.next_num)
            self.next_num += 1
            mapping[num.get(_w("numId"), "")] = new
            num.set(_w("numId"), new)
            link = num.find(_w("abstractNumId"))
            if link is not None and link.get(W_VAL) in abstract_ids:
                link.set(W_VAL, abstract_ids[link.get(W_VAL)])
            self.nums.append(etree.tostring(num))
        self.maps[key] = mapping
        return mapping

    @property
    def changed(self) -> bool:
        return bool(self.abstracts or self.nums)

    def xml(self) -> bytes:
        root = _parse(self.base_xml) if self.base_xml else etree.Element(_w("numbering"), nsmap={"w": W_NS})
        nums = root.findall(_w("num"))
        anchor = nums[0] if nums else None
        for data in self.abstracts:
            element = _parse(data)
            if anchor is not None:
                anchor.addprevious(element)
            else:
                root.append(element)
        cleanup = root.find(_w("numIdMacAtCleanup"))
        for data in self.nums:
            element = _parse(data)
            if cleanup is not None:
                cleanup.addprevious(element)
            else:
                root.append(element)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


class _Styles:
    """Styles of other templates that the first letter's template does not define."""

    def __init__(self) -> None:
        self.part: str | None = None
        self.base_key: tuple | None = None
        self.base_xml: bytes | None = None
        self.ids: set[str] = set()
        self.seen: set[tuple] = set()
        self.added: list[bytes] = []

    def start(self, part: str | None, key: tuple | None, xml: bytes | None) -> None:
        self.part, self.base_key, self.base_xml = part, key, xml
        if xml is not None:
            self.ids = {s.get(_w("styleId"), "") for s in _parse(xml).iter(_w("style"))}

    def add_from(self, key: tuple, xml: bytes, numbering: dict[str, str] | None) -> None:
        if key in self.seen or self.base_xml is None:
            return
        self.seen.add(key)
        for style in _parse(xml).iter(_w("style")):
            style_id = style.get(_w("styleId"), "")
            if style_id in self.ids:
                continue
            self.ids.add(style_id)
            if numbering is not None:
                for num_id in style.iter(W_NUMID):
                    num_id.set(W_VAL, numbering.get(num_id.get(W_VAL, ""), num_id.get(W_VAL, "")))
            self.added.append(etree.tostring(style))

    def xml(self) -> bytes:
        root = _parse(self.base_xml)
        for data in self.added:
            root.append(_parse(data))
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


# --- The combination ------------------------------------------------------------------------------


@dataclass
class _Pending:
    """A letter whose body is ready but not yet written (whether it is the last one decides
    where its section properties go)."""

    body: etree._Element
    fast: bool  # its namespaces are all declared on the combined root


class _Combiner:
    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.zip = zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6)
        self.caches: dict[tuple, object] = {}  # (what, member key) → parsed rels / content types / …
        self.parts: dict[tuple, str] = {}  # part identity (content and what it refers to) → combined name
        self.new_parts: dict[str, tuple[bytes, str]] = {}  # combined name → (content, content type)
        self.new_rels: dict[str, bytes] = {}
        self.numbering, self.styles = _Numbering(), _Styles()
        self.notes = {
            "footnote": _Notes("footnote", RT_FOOTNOTES, CT_FOOTNOTES),
            "endnote": _Notes("endnote", RT_ENDNOTES, CT_ENDNOTES),
        }
        self.docpr_id = DOCPR_FIRST_ID
        self.bookmark_offset = 0
        self.header_kinds: set[tuple[str, str]] = set()  # (headerReference|footerReference, type) seen so far
        self.empty_parts: dict[str, str] = {}
        self.pending: _Pending | None = None
        self.count = 0

    # Reading with caches (a template's unchanged members are identical in all its letters) ---

    def _cached(self, what: str, package: _Package, name: str, build):
        key = (what, name, package.key(name))
        found = self.caches.get(key)
        if found is None:
            found = self.caches[key] = build(package.read(name))
        return found

    def _rels(self, package: _Package, part: str) -> dict[str, _Rel]:
        name = _rels_name(part)
        if not package.has(name):
            return {}
        return self._cached("rels", package, name, lambda data: _read_rels(data, part))

    def _types(self, package: _Package) -> _ContentTypes:
        return self._cached("types", package, "[Content_Types].xml", _ContentTypes.read)

    def _main_part(self, package: _Package) -> str:
        for rel in self._rels(package, "").values() if package.has("_rels/.rels") else ():
            if rel.type == RT_OFFICE_DOCUMENT and not rel.external:
                return rel.target
        raise ValueError("a letter is not a Word document: it has no main document part")

    # The first letter: the base package ---------------------------------------------------------

    def start(self, package: _Package) -> None:
        self.base = package
        self.main = self._main_part(package)
        self.types = copy.deepcopy(self._types(package))
        self.names = {name.lower(): name for name in package.infos}
        base_rels = self._rels(package, self.main)
        self.main_rels = _RelsOut(self.main, base_rels)
        by_type = {rel.type: rel.target for rel in base_rels.values() if not rel.external}
        for _kind, notes in self.notes.items():
            part = by_type.get(notes.rel_type)
            if part and package.has(part):
                notes.start(part, package.read(part), self._rels(package, part))
        numbering = by_type.get(RT_NUMBERING)
        if numbering and package.has(numbering):
            self.numbering.start(numbering, package.key(numbering), package.read(numbering))
        styles = by_type.get(RT_STYLES)
        if styles and package.has(styles):
            self.styles.start(styles, package.key(styles), package.read(styles))

        root = _parse(package.read(self.main))
        nsmap = {prefix: uri for prefix, uri in WORD_NAMESPACES.items() if prefix not in root.nsmap}
        taken = set(root.nsmap.values())
        nsmap = {prefix: uri for prefix, uri in nsmap.items() if uri not in taken}
        nsmap.update(root.nsmap)
        self.nsmap = nsmap
        skeleton = etree.Element(root.tag, nsmap=nsmap)
        for name, value in root.attrib.items():
            skeleton.set(name, value)
        ignorable = (root.get(MC_IGNORABLE) or "").split()
        declared = {prefix for prefix, uri in nsmap.items() if prefix}
        ignorable += [p for p in WORD_IGNORABLE if p not in ignorable and nsmap.get(p) == WORD_NAMESPACES[p]]
        if nsmap.get("mc") == MC_NS and declared:
            skeleton.set(MC_IGNORABLE, " ".join(p for p in ignorable if p in declared))
        marker = None
        for child in root:
            if child.tag == W_BODY:
                marker = etree.SubElement(skeleton, W_BODY)
                marker.text = _SPLIT
            else:
                skeleton.append(copy.deepcopy(child))
        before, found, after = etree.tostring(skeleton, encoding="UTF-8").partition(_SPLIT.encode())
        if marker is None or not found:
            raise ValueError("the first letter's document body could not be located")
        self.document_before, self.document_after = _XML_DECLARATION + before, after
        self.stream = self.zip.open(self.main, "w")
        self.stream.write(self.document_before)

    # Parts a letter's body refers to ----------------------------------------------------------

    def _part(self, package: _Package, name: str, is_base: bool, visiting: frozenset = frozenset()) -> str:
        """The combined package's name of `package`'s part `name`, copying it (and the parts it
        refers to) the first time such content is seen."""
        if name in visiting:
            raise ValueError(f"{name}: the letter's relationships form a cycle")
        if not package.has(name):
            raise ValueError(f"{name}: a letter refers to a part it does not have")
        rels = self._rels(package, name)
        children = []
        for rid, rel in sorted(rels.items()):
            target = rel.target if rel.external else self._part(package, rel.target, is_base, visiting | {name})
            children.append((rid, rel.type, target, rel.external))
        identity = (package.key(name), tuple(children))
        found = self.parts.get(identity)
        if found is not None:
            return found
        if is_base:
            new = name
        else:
            new = self._new_name(name)
            content_type = self._types(package).of(name)
            self.new_parts[new] = (package.read(name), content_type)
            ext = new.rpartition(".")[2].lower()
            if self.types.defaults.get(ext) != content_type:
                self.types.overrides[new.lower()] = content_type
            if children:
                out = _RelsOut(new)
                out.rels = {
                    rid: _Rel(
                        rtype,
                        target,
                        external,
                        target if external else posixpath.relpath(target, posixpath.dirname(new) or "."),
                    )
                    for rid, rtype, target, external in children
                }
                self.new_rels[_rels_name(new)] = out.xml()
        self.parts[identity] = new
        return new

    def _new_name(self, name: str) -> str:
        folder, _, base = name.rpartition("/")
        number = len(self.new_parts) + 1
        while True:
            candidate = f"{folder}/lt{number}-{base}" if folder else f"lt{number}-{base}"
            if candidate.lower() not in self.names:
                self.names[candidate.lower()] = candidate
                return candidate
            number += 1

    def _empty_part(self, kind: str) -> str:
        """An empty header or footer, for a letter without one after letters with one (a section
        without a header would show the previous section's)."""
        found = self.empty_parts.get(kind)
        if found is None:
            tag, content_type = ("hdr", CT_HEADER) if kind == "headerReference" else ("ftr", CT_FOOTER)
            xml = _XML_DECLARATION + f'<w:{tag} xmlns:w="{W_NS}"><w:p/></w:{tag}>'.encode()
            found = self._new_name(posixpath.join(posixpath.dirname(self.main), f"empty-{tag}.xml"))
            self.new_parts[found] = (xml, content_type)
            self.types.overrides[found.lower()] = content_type
            self.empty_parts[kind] = found
        return found

    # One letter --------------------------------------------------------------------------------

    def add(self, data: bytes) -> None:
        package = _Package(data)
        is_base = self.count == 0
        if is_base:
            self.start(package)
        main = self._main_part(package)
        root = _parse(package.read(main))
        body = root.find(W_BODY)
        if body is None:
            raise ValueError(f"letter {self.count + 1} has no document body")
        self._adapt(package, main, body, is_base)
        nsmap = body.nsmap
        fast = all(self.nsmap.get(prefix) == uri for prefix, uri in nsmap.items())
        if not fast:
            body = copy.deepcopy(body)  # its own tree: only the namespaces it uses stay declared on it
            etree.cleanup_namespaces(body)
            fast = all(self.nsmap.get(prefix) == uri for prefix, uri in body.nsmap.items())
        if self.pending is not None:
            self._write(self.pending, last=False)
        self.pending = _Pending(body, fast)
        self.count += 1

    def _adapt(self, package: _Package, main: str, body: etree._Element, is_base: bool) -> None:
        """Remap the body's relationships, ids, notes and numbering into the combined package."""
        rels = self._rels(package, main)
        by_type = {rel.type: rel.target for rel in rels.values() if not rel.external}
        mapped: dict[str, str] = {}
        numbering_map = self._numbering_map(package, by_type, is_base)
        sections: list[etree._Element] = []
        bookmark_max = -1
        removed: list[etree._Element] = []
        for element in _INTERESTING(body):
            tag = element.tag
            if tag == WP_DOCPR:
                element.set("id", str(self.docpr_id))
                self.docpr_id += 1
            elif tag in (W_BOOKMARKSTART, W_BOOKMARKEND):
                value = element.get(W_ID)
                if value is not None and value.lstrip("-").isdigit():
                    new = int(value) + self.bookmark_offset
                    bookmark_max = max(bookmark_max, new)
                    element.set(W_ID, str(new))
            elif tag == W_SECTPR:
                sections.append(element)
            elif tag in (W_FOOTNOTEREF, W_ENDNOTEREF):
                if not is_base:
                    self._note(package, by_type, element, "footnote" if tag == W_FOOTNOTEREF else "endnote")
            elif tag in W_COMMENTS:
                if not is_base:
                    removed.append(element)
            elif tag == W_NUMID and numbering_map is not None:
                value = element.get(W_VAL, "")
                element.set(W_VAL, numbering_map.get(value, value))
            for name in element.attrib:
                if name.startswith(R_PREFIX):
                    rid = element.get(name)
                    new = mapped.get(rid)
                    if new is None:
                        new = mapped[rid] = self._relate(self.main_rels, package, rels, rid, is_base)
                    element.set(name, new)
            if not is_base and (W14_PARAID in element.attrib or W14_TEXTID in element.attrib):
                element.attrib.pop(W14_PARAID, None)
                element.attrib.pop(W14_TEXTID, None)
        for element in removed:
            element.getparent().remove(element)
        self.bookmark_offset = max(self.bookmark_offset, bookmark_max + 1)
        if not is_base and by_type.get(RT_STYLES) and package.has(by_type[RT_STYLES]):
            styles = by_type[RT_STYLES]
            key = package.key(styles)
            if key != self.styles.base_key and (key not in self.styles.seen):
                self.styles.add_from(key, package.read(styles), numbering_map)
        self._sections(body, sections, is_base)

    def _relate(self, out: _RelsOut, package: _Package, rels: dict[str, _Rel], rid: str, is_base: bool) -> str:
        rel = rels.get(rid)
        if rel is None:
            raise ValueError(f'a letter refers to relationship "{rid}", which it does not have')
        if rel.external:
            return out.get(rel.type, rel.target, True)
        return out.get(rel.type, self._part(package, rel.target, is_base), False)

    def _numbering_map(self, package: _Package, by_type: dict[str, str], is_base: bool) -> dict[str, str] | None:
        part = by_type.get(RT_NUMBERING)
        if is_base or not part or not package.has(part):
            return None
        key = package.key(part)
        if key == self.numbering.base_key:
            return None
        if self.numbering.part is None:
            self.numbering.part = posixpath.join(posixpath.dirname(self.main), "numbering.xml")
            if self.numbering.part.lower() in self.names:
                self.numbering.part = self._new_name(self.numbering.part)
            self.names[self.numbering.part.lower()] = self.numbering.part
            self.types.overrides[self.numbering.part.lower()] = CT_NUMBERING
            self.main_rels.get(RT_NUMBERING, self.numbering.part, False)
        return self.numbering.mapping(key, package.read(part))

    def _note(self, package: _Package, by_type: dict[str, str], reference: etree._Element, kind: str) -> None:
        notes = self.notes[kind]
        part = by_type.get(notes.rel_type)
        if not part or not package.has(part):
            return
        tree = notes.letter_trees.get(part)  # this letter's notes, parsed once (they differ per letter)
        if tree is None or notes.letter_package is not package:
            tree = _parse(package.read(part))
            notes.letter_package, notes.letter_trees = package, {part: tree}
        note = next((n for n in tree if n.tag == _w(kind) and n.get(W_ID) == reference.get(W_ID)), None)
        if note is None:
            return
        if notes.part is None:
            name = posixpath.join(posixpath.dirname(self.main), f"{kind}s.xml")
            name = self._new_name(name) if name.lower() in self.names else name
            self.names[name.lower()] = name
            notes.create(name, package.read(part))
            self.types.overrides[name.lower()] = notes.content_type
            self.main_rels.get(notes.rel_type, name, False)
        note = copy.deepcopy(note)
        note.set(W_ID, str(notes.next_id))
        reference.set(W_ID, str(notes.next_id))
        notes.next_id += 1
        rels = self._rels(package, part)
        for element in note.iter():
            if element.tag == WP_DOCPR:
                element.set("id", str(self.docpr_id))
                self.docpr_id += 1
            for name in element.attrib:
                if name.startswith(R_PREFIX):
                    element.set(name, self._relate(notes.rels, package, rels, element.get(name), False))
        notes.added.append(etree.tostring(note))

    def _sections(self, body: etree._Element, sections: list[etree._Element], is_base: bool) -> None:
        """The letter's first section starts a new page with page 1; it gets an empty header or
        footer where earlier letters had one and it has none."""
        if not sections:
            sections = [etree.SubElement(body, W_SECTPR)]
        first = sections[0]
        if not is_base:
            kind = first.find(W_TYPE)
            if kind is not None and kind.get(W_VAL) in ("continuous", "nextColumn"):
                kind.set(W_VAL, "nextPage")
        numbering = first.find(W_PGNUMTYPE)
        if numbering is None:
            numbering = _insert(first, W_PGNUMTYPE)
        if numbering.get(W_START) is None:
            numbering.set(W_START, "1")
        present = {(ref.tag, ref.get(W_TYPE, "default")) for ref in first if ref.tag in (W_HEADERREF, W_FOOTERREF)}
        for tag, kind in sorted(self.header_kinds - present):
            ref = _insert(first, tag)
            ref.set(W_TYPE, kind)
            ref.set(
                f"{R_PREFIX}id",
                self.main_rels.get(RT_HEADER if tag == W_HEADERREF else RT_FOOTER, self._empty_part(tag), False),
            )
        for section in sections:
            for ref in section:
                if ref.tag in (W_HEADERREF, W_FOOTERREF):
                    self.header_kinds.add((ref.tag, ref.get(W_TYPE, "default")))

    # Writing -----------------------------------------------------------------------------------

    def _write(self, pending: _Pending, *, last: bool) -> None:
        body = pending.body
        if not last:
            section = body[-1] if len(body) and body[-1].tag == W_SECTPR else None
            if section is not None:
                paragraph = body[-2] if len(body) > 1 and body[-2].tag == W_P else None
                if paragraph is None:
                    paragraph = etree.Element(W_P)
                    section.addprevious(paragraph)
                properties = paragraph.find(W_PPR)
                if properties is None:
                    properties = etree.Element(W_PPR)
                    paragraph.insert(0, properties)
                change = properties.find(W_PPRCHANGE)
                if change is not None:
                    change.addprevious(section)
                else:
                    properties.append(section)
        if pending.fast:
            text = etree.tostring(body, encoding="UTF-8", with_tail=False)
            start = text.index(b">") + 1
            if text[start - 2 : start] == b"/>":
                return
            self.stream.write(text[start : text.rindex(b"</")])
        else:
            for child in body:
                self.stream.write(etree.tostring(child, encoding="UTF-8", with_tail=False))

    def finish(self) -> None:
        self._write(self.pending, last=True)
        self.pending = None
        self.stream.write(self.document_after)
        self.stream.close()
        replaced: dict[str, bytes] = {_rels_name(self.main): self.main_rels.xml()}
        if self.numbering.changed:
            replaced[self.numbering.part] = self.numbering.xml()
        if self.styles.added:
            replaced[self.styles.part] = self.styles.xml()
        for notes in self.notes.values():
            if notes.part is not None and (notes.added or not self.base.has(notes.part)):
                replaced[notes.part] = notes.xml()
                if notes.rels.changed or notes.rels.rels:
                    replaced[_rels_name(notes.part)] = notes.rels.xml()
        replaced.update(self.new_rels)
        for name, (data, _content_type) in self.new_parts.items():
            replaced[name] = data
        written = {self.main}
        for info in self.base.zf.infolist():
            if info.filename in written or info.filename == "[Content_Types].xml":
                continue
            data = replaced.pop(info.filename, None)
            self._put(info.filename, data if data is not None else self.base.read(info.filename))
            written.add(info.filename)
        for name, data in replaced.items():
            self._put(name, data)
        self._put("[Content_Types].xml", self.types.xml(self.names))
        self.zip.close()

    def abort(self) -> None:
        """Close the output after an error (what it holds then is not a document to keep)."""
        stream = getattr(self, "stream", None)
        with contextlib.suppress(Exception):
            if stream is not None and not stream.closed:
                stream.close()
        with contextlib.suppress(Exception):
            self.zip.close()

    def _put(self, name: str, data: bytes) -> None:
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        self.zip.writestr(info, data, compresslevel=6)


def _insert(section: etree._Element, tag: str) -> etree._Element:
    """A new child `tag` of a sectPr at its place in the schema's order."""
    element = etree.Element(tag)
    rank = _SECTPR_ORDER.index(tag)
    for child in section:
        if child.tag in _SECTPR_ORDER and _SECTPR_ORDER.index(child.tag) > rank:
            child.addprevious(element)
            return element
    section.append(element)
    return element


def combine_docx(letters: Iterable[bytes], out: BinaryIO) -> int:
    """Write one .docx holding every letter of `letters` (complete .docx packages), one after
    the other, each starting on a new page; return how many letters it holds.

    The first letter's package is the base: its styles, numbering, settings, theme and
    document properties are the combined document's. Letters are consumed one at a time, so
    memory does not grow with their number (beyond the parts they add: distinct images and
    headers, notes, list definitions). Raises ValueError when there is no letter or a letter
    is not a Word document; whatever `letters` raises passes through (the output is then
    incomplete: write to a temporary file and move it into place only on success).
    """
    combiner = _Combiner(out)
    try:
        for data in letters:
            combiner.add(data)
        if combiner.count == 0:
            raise ValueError("there are no letters to combine")
        combiner.finish()
    except BaseException:
        combiner.abort()
        raise
    return combiner.count


# --- One letter as HTML -----------------------------------------------------------------------------


_HEADING = re.compile(r"^(?:heading|berschrift|titre|kop)\s*([1-6])$", re.IGNORECASE)


def _main_document_xml(docx: bytes) -> bytes:
    package = _Package(docx)
    main = "word/document.xml"
    if package.has("_rels/.rels"):
        for rel in _read_rels(package.read("_rels/.rels"), "").values():
            if rel.type == RT_OFFICE_DOCUMENT and not rel.external:
                main = rel.target
    return package.read(main)


def _on(element: etree._Element | None) -> bool:
    return element is not None and element.get(W_VAL, "true").lower() not in ("false", "0", "off", "none")


def _runs_html(container: etree._Element) -> str:
    parts = []
    for element in container:
        tag = element.tag
        if tag == _w("r"):
            properties = element.find(_w("rPr"))
            bold = properties is not None and _on(properties.find(_w("b")))
            italic = properties is not None and _on(properties.find(_w("i")))
            text = []
            for child in element:
                if child.tag == _w("t"):
                    text.append(html.escape(child.text or ""))
                elif child.tag in (_w("br"), _w("cr")):
                    text.append("<br>")
                elif child.tag == _w("tab"):
                    text.append("\t")
                elif child.tag == _w("noBreakHyphen"):
                    text.append("-")
            chunk = "".join(text)
            if chunk and italic:
                chunk = f"<em>{chunk}</em>"
            if chunk and bold:
                chunk = f"<strong>{chunk}</strong>"
            parts.append(chunk)
        elif tag in (_w("hyperlink"), _w("ins"), _w("smartTag"), _w("fldSimple"), _w("customXml")):
            parts.append(_runs_html(element))
        elif tag == _w("sdt"):
            content = element.find(_w("sdtContent"))
            if content is not None:
                parts.append(_runs_html(content))
    return "".join(parts)


def _blocks_html(container: etree._Element) -> list[str]:
    blocks = []
    for element in container:
        if element.tag == W_P:
            style = element.find(f"{W_PPR}/{_w('pStyle')}")
            style_id = style.get(W_VAL, "") if style is not None else ""
            content = _runs_html(element) or "<br>"
            match = _HEADING.match(style_id)
            if style_id.lower() == "title":
                blocks.append(f"<h1>{content}</h1>")
            elif match:
                blocks.append(f"<h{match.group(1)}>{content}</h{match.group(1)}>")
            else:
                blocks.append(f"<p>{content}</p>")
        elif element.tag == _w("tbl"):
            rows = []
            for row in element.iter(_w("tr")):
                cells = "".join(f"<td>{''.join(_blocks_html(cell))}</td>" for cell in row.findall(_w("tc")))
                rows.append(f"<tr>{cells}</tr>")
            blocks.append(f"<table>{''.join(rows)}</table>")
        elif element.tag == _w("sdt"):
            content = element.find(_w("sdtContent"))
            if content is not None:
                blocks += _blocks_html(content)
    return blocks


def letter_html(docx: bytes) -> str:
    """The letter's body as safe HTML: one `<p>` per paragraph (`<h1>`–`<h6>` for title and
    heading styles), `<br>` for line breaks, `<strong>`/`<em>` for bold and italic runs, tables
    as tables. Every text is escaped (a contact named `<script>` shows as that text); no
    attribute, link, image or style of the document reaches the HTML."""
    root = _parse(_main_document_xml(docx))
    body = root.find(W_BODY)
    if body is None:
        return ""
    return "\n".join(_blocks_html(body))


# --- File names and the .zip of letters -----------------------------------------------------------

_UNSAFE = re.compile(r'[\x00-\x1f\x7f-\x9f<>:"/\\|?*]+')
_SPACES = re.compile(r"\s+")
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}
MAX_STEM = 120


def _safe(text: str) -> str:
    text = unicodedata.normalize("NFC", text or "")
    text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text)
    text = _UNSAFE.sub("_", text)
    return _SPACES.sub(" ", text).strip(" .")


def letter_file_name(contact_name: str, company_name: str = "", ext: str = "docx") -> str:
    """A safe file name for a letter (R69): "<company> - <name>.docx" for a person in a company,
    else "<name>.docx". No path separators, control characters or characters Windows reserves;
    not a reserved Windows device name; no leading or trailing dots or spaces; the name before
    the extension at most MAX_STEM characters; "letter" when nothing is left."""
    name, company = _safe(contact_name), _safe(company_name)
    stem = f"{company} - {name}" if company and name and company != name else (name or company)
    stem = stem[:MAX_STEM].strip(" .") or "letter"
    if stem.split(".")[0].upper().rstrip() in _RESERVED:
        stem = "_" + stem
    ext = _safe(ext).lstrip(".") or "docx"
    return f"{stem}.{ext}"


class _UniqueNames:
    """File names made unique, ignoring case, by " (2)", " (3)", … before the extension."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def make(self, name: str) -> str:
        stem, dot, ext = name.rpartition(".")
        if not dot:
            stem, ext = name, ""
        candidate, number = name, 1
        while candidate.lower() in self.used:
            number += 1
            candidate = f"{stem} ({number}){dot}{ext}"
        self.used.add(candidate.lower())
        return candidate


def zip_letters(letters: Iterable[tuple[str, bytes]], out: BinaryIO) -> int:
    """Write a .zip holding one file per (name, .docx bytes), names made unique, in the given
    order; return how many. The .docx files are stored as they are (already compressed)."""
    count = 0
    names = _UniqueNames()
    stamp = time.localtime()[:6]
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in letters:
            info = zipfile.ZipInfo(names.make(name), date_time=stamp)
            info.compress_type = zipfile.ZIP_STORED
            archive.writestr(info, data)
            count += 1
    return count
