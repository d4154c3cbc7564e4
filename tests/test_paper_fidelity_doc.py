"""docs/paper-fidelity.md names a test for every paper item: each named test must exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "paper-fidelity.md"
REF = re.compile(r"`([\w/]*test_\w+\.py)?(?:::(\w+))?`")


def _references() -> list[tuple[str, str | None]]:
    refs: list[tuple[str, str | None]] = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            continue
        last = None
        for m in REF.finditer(line):
            file, func = m.group(1), m.group(2)
            if file is None and func is None:
                continue
            if file is not None:
                last = file
            elif last is None:
                raise AssertionError(f"'::{func}' without a file before it in: {line[:120]}")
            refs.append((file or last, func))
    return refs


def _functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


def test_every_test_named_in_paper_fidelity_exists():
    refs = _references()
    assert len(refs) > 40, "the fidelity table names a test for each paper item"
    missing = []
    for file, func in refs:
        path = ROOT / "tests" / file
        if not path.is_file():
            missing.append(f"{file} (no such file)")
        elif func is not None and func not in _functions(path):
            missing.append(f"{file}::{func}")
    assert not missing, f"docs/paper-fidelity.md names tests that do not exist: {missing}"


def test_no_row_is_left_pending():
    assert "(pending" not in DOC.read_text(encoding="utf-8")
