"""The architecture's rules (ARCHITECTURE.md), checked on the import graph of the source.

Every import counts, including those inside functions and under TYPE_CHECKING. A package's
``__init__`` re-exporting its own children is not an arrow (the lazy public face).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("advisor", "bot", "evals")
# The core's layers, lowest first: a module may import its own layer and those below.
LAYERS = [
    {
        "advisor.errors",
        "advisor.patterns",
        "advisor.config",
        "advisor.contract",
        "advisor.text",
        "advisor.inputs",
        "advisor.quoting",
        "advisor.prompts",
        "advisor.memory",
        "advisor.tracing",
    },
    {"advisor.knowledge"},
    {"advisor.ask", "advisor.review"},
    {"advisor.facade"},
    {"advisor.cli"},
]
INDEPENDENT = ("advisor.ask", "advisor.review")  # siblings that must not import each other
MAX_LINES = 400
MAX_FUNCTION_LINES = 60
DATA_TABLES = {"advisor/review/cues.py"}  # modules of regular-expression tables


def _modules() -> dict[str, Path]:
    found = {}
    for pkg in PACKAGES:
        for f in (ROOT / pkg).rglob("*.py"):
            rel = f.relative_to(ROOT).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            found[".".join(parts)] = f
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path) -> set[str]:
    """The project modules a module imports (the names it takes, for ``from pkg import``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            subs = [f"{base}.{a.name}" for a in node.names]
            names = subs if any(_resolve(s) == s for s in subs) else [base]
        for name in names:
            target = _resolve(name) if name.split(".")[0] in PACKAGES else None
            reexport = path.name == "__init__.py" and (target or "").startswith(module + ".")
            if target and target != module and not reexport:
                out.add(target)
    return out


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def _layer(module: str) -> int | None:
    for n, layer in enumerate(LAYERS):
        if any(module == unit or module.startswith(unit + ".") for unit in layer):
            return n
    return None


def test_there_are_no_import_circles() -> None:
    seen: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(module: str, path: list[str]) -> None:
        seen[module] = 1
        for target in sorted(GRAPH[module]):
            if seen.get(target) == 1:
                cycle = [*path[path.index(target) :], target]
                pytest.fail(f"import circle: {' -> '.join(cycle)}")
            if target not in seen:
                visit(target, [*path, target])
        seen[module] = 2

    for module in sorted(GRAPH):
        if module not in seen:
            visit(module, [module])


def test_the_core_imports_no_front_door_and_no_eval() -> None:
    leaks = [
        f"{m} -> {t}"
        for m, targets in GRAPH.items()
        if m.split(".")[0] == "advisor"
        for t in targets
        if t.split(".")[0] != "advisor"
    ]
    assert leaks == []


def test_front_doors_and_evals_use_only_the_cores_public_names() -> None:
    leaks = [
        f"{m} -> {t}"
        for m, targets in GRAPH.items()
        if m.split(".")[0] in ("bot", "evals")
        for t in targets
        if t.split(".")[0] == "advisor" and t != "advisor"
    ]
    assert leaks == []


def test_the_core_imports_only_downwards() -> None:
    upward = []
    for m, targets in GRAPH.items():
        own = _layer(m)
        if own is None:
            continue
        for t in targets:
            theirs = _layer(t)
            if t != "advisor" and (theirs is None or theirs > own):
                upward.append(f"{m} (layer {own}) -> {t} (layer {theirs})")
    assert upward == []


def test_every_core_module_has_a_layer() -> None:
    core = [m for m in MODULES if m.startswith("advisor.")]
    assert [m for m in core if _layer(m) is None] == []


def test_answering_and_plan_review_are_independent() -> None:
    crossing = [
        f"{m} -> {t}"
        for m, targets in GRAPH.items()
        for a, b in (INDEPENDENT, INDEPENDENT[::-1])
        if m.startswith(a + ".") or m == a
        for t in targets
        if t.startswith(b + ".") or t == b
    ]
    assert crossing == []


def test_no_module_over_400_lines() -> None:
    big = {
        str(p.relative_to(ROOT)): n
        for p in MODULES.values()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert big == {}


def test_no_function_over_60_lines_except_data_tables() -> None:
    long = []
    for path in MODULES.values():
        rel = str(path.relative_to(ROOT))
        if rel in DATA_TABLES:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{rel}:{node.lineno} {node.name} ({lines} lines)")
    assert long == []


def test_the_rules_catch_a_circle_and_a_leak(tmp_path: Path) -> None:
    """The checks above can fail: a planted circle and a planted leak are found."""
    mod = tmp_path / "m.py"
    mod.write_text("from bot.app import create_app\nimport advisor.facade\n", encoding="utf-8")
    assert _imports("advisor.text", mod) == {"bot.app", "advisor.facade"}
    assert _layer("advisor.facade") == 3 and _layer("advisor.text") == 0
