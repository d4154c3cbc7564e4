"""The package's structure (docs/architecture.md, "Package layers"): every module imports; the import-time
graph between the parts of ``profile_align`` is layered (hence has no cycle); no ``_private`` name is used
across packages; no development tool or test dependency is imported by the installed package.

A *part* is a top-level subpackage (``profile_align.factors``, its subpackages included) or a top-level
module (``profile_align.scoring``). The package facade ``profile_align/__init__.py`` sits above all of them
and no module inside imports it.

*Import-time* imports are the ones a module runs when it is imported: module level, including those under
``try``/``if`` (but not ``if TYPE_CHECKING:``, which never runs). Function-local imports run later, on a
call, so they cannot make an import cycle; the few that reach a part in the same or a higher layer are
listed in :data:`LAZY_UPWARD` with the reason, so that a new one is a deliberate decision.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path

import pytest

import profile_align

SRC = Path(profile_align.__file__).resolve().parent
PKG = "profile_align"

# bottom to top: a part imports (at import time) only parts of strictly lower layers
LAYERS: list[tuple[str, set[str]]] = [
    ("foundation", {"version", "cli_options", "cli_errors", "taxonomy", "data", "stats"}),
    ("model calls and run directory", {"backends", "rundir"}),
    ("prompt files", {"prompts"}),
    ("answer checks", {"diagnostics"}),
    ("factor extraction and judges", {"factors", "judges"}),
    ("scores", {"scoring"}),
    ("analyses", {"explain", "overview", "score_many"}),
    ("orchestration and output", {"pipeline", "experiments", "report", "explain_cli"}),
    ("command line", {"cli"}),
]

# function-local imports of a part in the same or a higher layer: (importing module, imported module) -> why
LAZY_UPWARD: dict[tuple[str, str], str] = {
    ("backends.check", "prompts"): "the prompt loader imports backends.base; the check request loads lazily",
    ("backends.factory", "rundir"): "a client factory given a run directory resolves its cache path",
    ("data.loaders", "taxonomy"): "a --task name is checked against the taxonomy's tasks (same layer)",
    ("rundir", "judges.base"): "the manifest's judge kind is validated by the judges' JudgeKind",
    ("rundir", "pipeline.config"): "the manifest keeps the run config; read back through RunConfig",
    ("rundir", "factors.table"): "read_factors returns a FactorTable",
    ("overview", "cli"): "the overview command reuses the CLI's data loader (_load: same package)",
    ("pipeline.run", "report"): "the run writes its report when the report extra is installed",
    ("pipeline.summary", "report.findings"): "the plain-language reading of a factor has one definition, the report's",
    ("score_many", "pipeline.analyse"): "score --judges writes the tables run writes (one table assembly)",
    ("score_many", "pipeline.config"): "... with the run's statistics settings (StatsConfig)",
}

# modules that import an optional extra's package at import time -> that package (skipped when it is absent);
# every other module imports with the core dependencies alone (the extras' models load lazily)
OPTIONAL: dict[str, str] = {
    "profile_align.report.html": "jinja2",  # the 'report' extra: the HTML report is a jinja2 template
}

# development-only modules: the installed package must not import them
DEV_ONLY = ("pytest", "hypothesis", "tests", "tools", "_pytest")


def _part(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else ""


def _layer(part: str) -> int:
    for i, (_, parts) in enumerate(LAYERS):
        if part in parts:
            return i
    raise AssertionError(f"part {part!r} of profile_align is in no layer: add it to LAYERS and docs/architecture.md")


@dataclass(frozen=True)
class Imp:
    module: str  # the importing module
    target: str  # the imported module (or the package a name is imported from)
    name: str | None  # the imported name (from-imports)
    line: int
    lazy: bool  # inside a function
    alias: str = ""  # the name it binds


def _modules() -> dict[str, Path]:
    out = {}
    for p in sorted(SRC.rglob("*.py")):
        parts = list(p.relative_to(SRC.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = p
    return out


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _imports(mod: str, path: Path) -> list[Imp]:
    pkg = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    out: list[Imp] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue  # never runs
            in_fn = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.ImportFrom):
                if child.level:
                    base = pkg.split(".")[: len(pkg.split(".")) - (child.level - 1)]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                for a in child.names:
                    sub = f"{target}.{a.name}"
                    out.append(Imp(mod, sub if sub in MODULES else target, None if sub in MODULES else a.name,
                                   child.lineno, in_fn, a.asname or a.name))
            elif isinstance(child, ast.Import):
                out.extend(Imp(mod, a.name, None, child.lineno, in_fn, a.asname or "") for a in child.names)
            visit(child, in_fn)

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return out


IMPORTS = [i for mod, path in MODULES.items() for i in _imports(mod, path)]
INTERNAL = [i for i in IMPORTS if i.target == PKG or i.target.startswith(PKG + ".")]


def test_every_module_imports() -> None:
    names = [m.name for m in pkgutil.walk_packages(profile_align.__path__, PKG + ".")]
    assert len(names) == len(MODULES) - 1  # every file is a module walk_packages finds (the facade aside)
    for name in names:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as e:
            extra = OPTIONAL.get(name)
            if extra is None or not (e.name or "").startswith(extra):
                raise


def test_import_time_graph_is_layered() -> None:
    bad = []
    for i in INTERNAL:
        if i.lazy or i.module == PKG:
            continue
        src, dst = _part(i.module), _part(i.target)
        if src == dst:
            continue
        if dst == "":
            bad.append(f"{i.module}:{i.line} imports the package facade ({i.name}); import the module instead")
        elif _layer(dst) >= _layer(src):
            bad.append(f"{i.module}:{i.line} imports {i.target}: {src} ({LAYERS[_layer(src)][0]}) may not import "
                       f"{dst} ({LAYERS[_layer(dst)][0]})")
    assert not bad, "\n".join(bad)


def test_import_time_graph_has_no_cycle() -> None:
    """Implied by the layers; checked on its own so that a cycle is named as one."""
    graph: dict[str, set[str]] = {}
    for i in INTERNAL:
        if not i.lazy and i.module != PKG and _part(i.module) != _part(i.target):
            graph.setdefault(_part(i.module), set()).add(_part(i.target))
    state: dict[str, int] = {}

    def walk(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(nxt):] + [node, nxt]))
            if nxt not in state:
                walk(nxt, path + [node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            walk(node, [])


def test_lazy_upward_imports_are_listed() -> None:
    found = set()
    for i in INTERNAL:
        if not i.lazy or i.module == PKG:
            continue
        src, dst = _part(i.module), _part(i.target)
        if src != dst and (dst == "" or _layer(dst) >= _layer(src)):
            found.add((i.module[len(PKG) + 1:], i.target[len(PKG) + 1:]))
    assert found - set(LAZY_UPWARD) == set(), "unlisted function-local imports up the layers (list them with a reason)"
    assert set(LAZY_UPWARD) - found == set(), "LAZY_UPWARD lists imports that are gone"


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_no_private_name_across_packages() -> None:
    """``from ..x import _y``, ``import ..x._y``, ``x._y`` on a module of another package, and
    ``getattr(obj, "_y")`` (another package's internals, reached by name) are all refused. Module-level
    names of one top-level part (a subpackage, or the top-level modules together) are shared inside it."""
    def pkg_of(mod: str) -> str:
        part = _part(mod)
        return part if part and f"{PKG}.{part}" in MODULES and MODULES[f"{PKG}.{part}"].name == "__init__.py" else ""

    bad = []
    for i in INTERNAL:
        if pkg_of(i.module) == pkg_of(i.target):
            continue
        rest = i.target[len(PKG) + 1:].split(".") if i.target != PKG else []
        if (i.name is not None and _private(i.name)) or any(_private(p) for p in rest):
            bad.append(f"{i.module}:{i.line} imports {i.target}{'.' + i.name if i.name else ''}")
    for mod, path in MODULES.items():
        foreign = {i.alias for i in INTERNAL  # modules of other packages bound to a name here
                   if i.module == mod and i.name is None and i.alias and pkg_of(i.target) != pkg_of(mod)}
        for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(n, ast.Attribute) and _private(n.attr) and isinstance(n.value, ast.Name)
                    and n.value.id in foreign):
                bad.append(f"{mod}:{n.lineno} uses {n.value.id}.{n.attr}")
            if (isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in ("getattr", "hasattr")
                    and len(n.args) > 1 and isinstance(n.args[1], ast.Constant)
                    and isinstance(n.args[1].value, str) and _private(n.args[1].value)):
                bad.append(f"{mod}:{n.lineno} reaches {n.args[1].value!r} by name")
    assert not bad, "\n".join(bad)


def test_package_imports_no_dev_tool() -> None:
    bad = [f"{i.module}:{i.line} imports {i.target}" for i in IMPORTS
           if i.target.split(".")[0] in DEV_ONLY]
    assert not bad, "\n".join(bad)
    assert not (SRC / "report" / "browser.py").exists() and not (SRC / "data" / "shipped" / "make_shipped.py").exists()


@pytest.mark.parametrize("check", ["private", "cycle"])
def test_the_checks_can_fail(tmp_path: Path, check: str) -> None:
    """The AST reading finds what the checks look for (on made-up modules)."""
    a = tmp_path / "a.py"
    if check == "private":
        a.write_text("from ..backends.client import _run_sync\nimport os\n\ndef f():\n    from ..rundir import x\n")
        got = _imports("profile_align.factors.a", a)
        assert [(i.target, i.name, i.lazy) for i in got] == [
            ("profile_align.backends.client", "_run_sync", False), ("os", None, False),
            ("profile_align.rundir", "x", True)]
    else:
        a.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..report import y\n"
                     "try:\n    from .. import scoring\nexcept ImportError:\n    pass\n")
        got = _imports("profile_align.stats.a", a)
        assert [(i.target, i.name, i.lazy) for i in got] == [("typing", "TYPE_CHECKING", False),
                                                             ("profile_align.scoring", None, False)]
        assert _layer(_part("profile_align.scoring")) > _layer(_part("profile_align.stats.a"))


def test_make_test_type_checks_before_pytest() -> None:
    """``make test`` (what CI runs) runs mypy on the package, then pytest; mypy's settings are in pyproject."""
    root = SRC.parents[1]
    if not (root / "Makefile").exists():
        pytest.skip("not a source checkout")
    lines = (root / "Makefile").read_text(encoding="utf-8").split("\ntest:", 1)[1].split("\n\n", 1)[0].splitlines()
    steps = [ln.strip() for ln in lines[1:]]
    assert steps[0] == "$(BIN)/python -m mypy src/profile_align" and "pytest" in steps[1]
    assert "[tool.mypy]" in (root / "pyproject.toml").read_text(encoding="utf-8")
