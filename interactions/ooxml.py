"""What every reader and writer of .docx files here shares (Office Open XML): the content
types named in more than one place, and the one hardened XML parser.

A .docx is untrusted input (an upload, a Word template): every XML part is parsed without
resolving entities, loading a DTD or using the network, and huge trees are refused, so an
XXE or "billion laughs" part is an error, never a read of a file or a URL.
"""

from __future__ import annotations

from lxml import etree

DOCX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
CT_HEADER = "application/vnd.openxmlformats-officedocument.wordprocessingml.header+xml"
CT_FOOTER = "application/vnd.openxmlformats-officedocument.wordprocessingml.footer+xml"
CT_FOOTNOTES = "application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml"


def hardened_parser(**options) -> etree.XMLParser:
    """An lxml parser for untrusted XML; `options` add to it (e.g. a `target` that scans)."""
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False, **options
    )


#: The parser of whole parts (`etree.fromstring(data, PARSER)`).
PARSER = hardened_parser()
