"""Every text a segment page shows is marked for translation (issue 17): outside
{% translate %} and {% blocktranslate %}, the templates of segments hold no words, neither as
text nor in the attributes people read (title, aria-label, placeholder, alt)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates" / "segments"

COMMENTS = re.compile(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}|{#.*?#}", re.DOTALL)
BLOCKS = re.compile(r"{%\s*blocktranslate\b.*?{%\s*endblocktranslate\s*%}", re.DOTALL)
SCRIPTS = re.compile(r"<script\b.*?</script>", re.DOTALL)
TEMPLATE_CODE = re.compile(r"{%.*?%}|{{.*?}}", re.DOTALL)
READ_ATTRIBUTES = re.compile(r'\b(?:title|aria-label|placeholder|alt)="([^"]*)"')
TAGS = re.compile(r"<[^>]*>")
WORD = re.compile(r"[^\W\d_]{2,}")


def unmarked_words(source: str) -> list[str]:
    text = BLOCKS.sub(" ", COMMENTS.sub(" ", source))
    text = TEMPLATE_CODE.sub(" ", SCRIPTS.sub(" ", text))
    words = [WORD.findall(value) for value in READ_ATTRIBUTES.findall(text)]
    words.append(WORD.findall(TAGS.sub(" ", text)))
    return [word for found in words for word in found]


def test_the_check_finds_unmarked_text_and_passes_marked_text():
    assert unmarked_words('<p title="Line no.">Lines {{ n }}</p>') == ["Line", "no", "Lines"]
    marked = '<p title="{% translate "Line no." %}">{% blocktranslate %}Lines {{ n }}{% endblocktranslate %}</p>'
    assert unmarked_words(marked) == []


@pytest.mark.parametrize("path", sorted(TEMPLATES.rglob("*.html")), ids=lambda path: path.name)
def test_segment_template_has_no_unmarked_text(path):
    assert unmarked_words(path.read_text()) == []
