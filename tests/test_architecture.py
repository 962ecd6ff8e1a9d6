"""The house plan holds: the import contracts in pyproject.toml, and no import circle anywhere.

A circle hidden by a function-level import still counts: grimp reads every import statement in a
module, wherever it sits.
"""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("plugin", cache_dir=None)


def test_import_contracts_hold(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT)
    exit_code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    assert exit_code == 0, capsys.readouterr().out


def _circles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(module: str) -> None:
        nonlocal counter
        index[module] = low[module] = counter
        counter += 1
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in graph.modules or imported.split(".")[0] != "plugin":
                continue
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(m for m in graph.modules if m.startswith("plugin")):
        if module not in index:
            visit(module)
    return found


def test_no_import_circle(graph: grimp.ImportGraph) -> None:
    assert _circles(graph) == []


def test_the_circle_check_can_fail() -> None:
    """The checker sees a circle when there is one (a tiny graph built by hand)."""
    tiny = grimp.ImportGraph()
    for name in ("plugin.a", "plugin.b", "plugin.c"):
        tiny.add_module(name)
    tiny.add_import(importer="plugin.a", imported="plugin.b")
    tiny.add_import(importer="plugin.b", imported="plugin.a")
    tiny.add_import(importer="plugin.c", imported="plugin.a")
    assert _circles(tiny) == [["plugin.a", "plugin.b"]]


def test_no_module_loose_at_the_root() -> None:
    """Only the app factory and shared plumbing sit at plugin/'s root (README, "How it works")."""
    allowed = {"__init__.py", "settings.py", "clock.py", "db.py", "runtime.py", "audit.py", "migrate.py",
               "processes.py", "keys.py", "json_input.py", "private_files.py"}
    loose = {p.name for p in (ROOT / "plugin").glob("*.py")}
    assert loose <= allowed, sorted(loose - allowed)
