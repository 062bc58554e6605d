"""Dependencies run one way: crm ← interactions ← segments (issue 11, part 1).

A module of `crm` imports neither `interactions` nor `segments`; a module of `interactions`
never imports `segments`; `segments` may import both. The walker reads every module's AST
under crm/ and interactions/ (migrations excepted: their history names what it names) and
counts as an import:

- `import x`, `from x import y`, and relative imports, resolved to the module they reach;
- `importlib.import_module("x…")`, `import_module(…)`, `__import__(…)`, Django's
  `import_string("x…")` and `include("x.urls")` with a string;
- `apps.get_model("x", …)` / `apps.get_model("x.Model")` and `apps.get_app_config("x")`.

Imports under `if TYPE_CHECKING:` are type hints only and are allowed.

`python -m tests.test_import_direction [ROOT]` prints the offending imports of the project at
ROOT (default: this checkout), one `file:line: …` each.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# app → the apps above it, which it must not import.
FORBIDDEN = {"crm": ("interactions", "segments"), "interactions": ("segments",)}

# The composition root names every app by string: the root URLconf includes each app's URLs
# and the settings list INSTALLED_APPS. They belong to the project, not to the `crm` app.
COMPOSITION_ROOT = frozenset({"crm/urls.py", "crm/settings.py"})

# Calls whose first (string) argument names a module: "x.y.z".
MODULE_CALLS = frozenset({"import_module", "__import__", "import_string", "include"})
# Calls whose first (string) argument names an app label: "x" or "x.Model".
APP_CALLS = frozenset({"get_model", "get_app_config"})


def _package(path: Path, root: Path) -> list[str]:
    """The dotted parts of the package a module file belongs to (relative imports start there)."""
    return list(path.relative_to(root).parent.parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _call_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _string(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def imports_of(source: str, package: list[str]) -> Iterator[tuple[int, str, str]]:
    """(line, dotted target, how) for every import in `source`, a module of `package` (its
    dotted parts, for relative imports); imports under `if TYPE_CHECKING:` are left out."""
    tree = ast.parse(source)
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                skipped.update(id(inner) for inner in ast.walk(child))
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, f"import {alias.name}"
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level - 1 <= len(package) else []
                shown = "." * node.level + (node.module or "")
            else:
                base, shown = [], node.module or ""
            module = [*base, *(node.module.split(".") if node.module else [])]
            if node.module:
                yield node.lineno, ".".join(module), f"from {shown} import …"
            else:
                for alias in node.names:
                    yield node.lineno, ".".join([*module, alias.name]), f"from {shown} import {alias.name}"
        elif isinstance(node, ast.Call):
            name = _call_name(node.func)
            text = _string(node.args[0]) if node.args else None
            if text is None:
                continue
            if name in MODULE_CALLS:
                yield node.lineno, text, f'{name}("{text}")'
            elif name in APP_CALLS:
                yield node.lineno, text.split(".")[0], f'{name}("{text}", …)'


def offending_imports(root: Path = ROOT) -> list[str]:
    """`file:line: app imports other (how)` for every import against the order, sorted."""
    found = []
    for app, above in FORBIDDEN.items():
        for path in sorted((root / app).rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            if "migrations" in path.relative_to(root).parts or relative in COMPOSITION_ROOT:
                continue
            imports = sorted(imports_of(path.read_text(encoding="utf-8"), _package(path, root)))
            for line, target, how in imports:
                top = target.split(".")[0]
                if top in above:
                    found.append(f"{relative}:{line}: {app} imports {top} ({how})")
    return found


def test_the_apps_import_one_way():
    offending = offending_imports()
    assert not offending, "imports against crm ← interactions ← segments:\n" + "\n".join(offending)


# --- The walker finds every form (synthetic modules) -------------------------------------------


@pytest.mark.parametrize(
    ("source", "package", "expected"),
    [
        ("import segments", ["crm"], ["segments"]),
        ("import segments.models as m", ["crm"], ["segments.models"]),
        ("from interactions.models import Entry", ["crm"], ["interactions.models"]),
        ("from ...segments import services", ["crm", "views"], ["segments"]),
        ("from ..segments import services", ["crm", "views"], ["crm.segments"]),
        ("from ... import segments", ["crm", "views"], ["segments"]),
        ("from .. import selectors", ["crm", "views"], ["crm.selectors"]),
        ("import importlib\nimportlib.import_module('segments.services')", ["crm"], ["importlib", "segments.services"]),
        ("from importlib import import_module\nimport_module('segments')", ["crm"], ["importlib", "segments"]),
        ("__import__('interactions.services')", ["crm"], ["interactions.services"]),
        ("import_string('segments.merge.line_context')", ["crm"], ["segments.merge.line_context"]),
        ("apps.get_model('segments', 'SegmentLine')", ["crm"], ["segments"]),
        ("apps.get_model('segments.SegmentLine')", ["crm"], ["segments"]),
        ("apps.get_app_config('interactions')", ["crm"], ["interactions"]),
        ("path('', include('segments.urls'))", ["crm"], ["segments.urls"]),
        ("def f():\n    from segments.models import Segment", ["interactions"], ["segments.models"]),
        ("import_module(name)", ["crm"], []),
    ],
)
def test_the_walker_finds_each_form_of_import(source, package, expected):
    assert [target for _line, target, _how in imports_of(source, package)] == expected


def test_the_walker_allows_type_checking_imports_only():
    source = (
        "from typing import TYPE_CHECKING\n"
        "import typing\n"
        "if TYPE_CHECKING:\n"
        "    from segments.models import Segment\n"
        "if typing.TYPE_CHECKING:\n"
        "    import interactions\n"
        "else:\n"
        "    import segments\n"
    )
    assert [(line, target) for line, target, _how in imports_of(source, ["crm"])] == [
        (1, "typing"),
        (2, "typing"),
        (8, "segments"),
    ]


def test_offending_imports_names_file_and_line(tmp_path):
    (tmp_path / "crm" / "views").mkdir(parents=True)
    (tmp_path / "crm" / "migrations").mkdir()
    (tmp_path / "interactions").mkdir()
    (tmp_path / "crm" / "views" / "cards.py").write_text("import os\nfrom ...interactions import selectors\n")
    (tmp_path / "crm" / "urls.py").write_text("include('segments.urls')\n")
    (tmp_path / "crm" / "migrations" / "0001_initial.py").write_text("import segments\n")
    (tmp_path / "interactions" / "delivery.py").write_text("from crm.models import Contact\nimport segments.merge\n")
    assert offending_imports(tmp_path) == [
        "crm/views/cards.py:2: crm imports interactions (from ...interactions import …)",
        "interactions/delivery.py:2: interactions imports segments (import segments.merge)",
    ]


if __name__ == "__main__":
    lines = offending_imports(Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else ROOT)
    sys.stdout.write("".join(f"{line}\n" for line in lines))
    sys.stderr.write(f"{len(lines)} import(s) against crm ← interactions ← segments\n")
