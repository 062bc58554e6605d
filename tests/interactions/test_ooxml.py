"""The one hardened XML parser every .docx part is read with (interactions.ooxml)."""

from __future__ import annotations

import pytest
from lxml import etree

from interactions.ooxml import PARSER, hardened_parser


def test_an_external_entity_is_never_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    part = f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]><r>&x;</r>'.encode()

    root = etree.fromstring(part, PARSER)

    assert "TOP SECRET" not in etree.tostring(root).decode()


def test_a_target_parser_is_as_hardened(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    seen: list[str] = []

    class Texts:
        def data(self, text):
            seen.append(text)

        def close(self):
            return seen

    parser = hardened_parser(target=Texts())
    parser.feed(f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]><r>&x;</r>'.encode())

    assert "TOP SECRET" not in "".join(parser.close())


def test_entity_expansion_bombs_are_refused():
    lol = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    part = f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY l0 "lol">{lol}]><r>&l9;</r>'.encode()

    with pytest.raises(etree.XMLSyntaxError, match="amplification"):
        etree.fromstring(part, PARSER)
