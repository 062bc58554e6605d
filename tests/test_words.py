"""What users read carries no SPEC, CONTRACT or RELIABILITY ids such as "(R50)": those belong in
code comments and docstrings only. Every string of the apps' code other than a docstring (labels,
help texts, messages, command help), every model field's verbose name and help text, and every
template outside its comments is checked."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.apps import apps

ROOT = Path(__file__).resolve().parent.parent
APPS = ("crm", "interactions", "segments")
SPEC_ID = re.compile(r"\b(?:R|D|F)\d{1,3}(?:\.\d+)?\b|\bSPEC\b|\bRELIABILITY\b")
TEMPLATE_COMMENT = re.compile(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}|{#.*?#}", re.DOTALL)


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def test_no_string_in_the_apps_code_shows_a_spec_id():
    found = []
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text())
            docstrings = _docstrings(tree)
            for node in ast.walk(tree):
                text = node.value if isinstance(node, ast.Constant) and id(node) not in docstrings else None
                if isinstance(text, str) and SPEC_ID.search(text):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {text[:80]!r}")
    assert found == []


@pytest.mark.parametrize("app", APPS)
def test_no_model_field_label_or_help_text_shows_a_spec_id(app):
    found = []
    for model in apps.get_app_config(app).get_models():
        for field in model._meta.get_fields():
            for text in (getattr(field, "verbose_name", ""), getattr(field, "help_text", "")):
                if text and SPEC_ID.search(str(text)):
                    found.append(f"{model.__name__}.{field.name}: {text}")
    assert found == []


def test_no_template_shows_a_spec_id_outside_its_comments():
    found = []
    for path in (ROOT / "templates").rglob("*.html"):
        text = TEMPLATE_COMMENT.sub("", path.read_text())
        for match in SPEC_ID.finditer(text):
            found.append(f"{path.relative_to(ROOT)}: {text[max(0, match.start() - 30) : match.end() + 10]!r}")
    assert found == []
