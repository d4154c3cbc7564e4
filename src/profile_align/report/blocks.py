"""The report's document model: sections made of blocks that the HTML and the Markdown writers render.

Cells are plain strings (escaped by the writer) or :class:`Text` (a text from data or a model; long
ones are collapsed in HTML, never cut). Numbers are formatted here, once, for both writers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np
import pandas as pd

__all__ = [
    "Text", "Table", "FigureRef", "KeyValues", "Note", "PairExample", "Section", "Block", "Cell",
    "fmt_num", "fmt_score", "fmt_p", "fmt_pct", "fmt_int", "fmt_value", "frame_table", "MAX_TABLE_ROWS",
]

MAX_TABLE_ROWS = 200  # longer tables show their first rows and say how many are left out (and where)
TEXT_COLLAPSE = 280  # characters above which a Text is collapsed in <details>


@dataclass(frozen=True)
class Text:
    """A text from data or a model (an output, a source, a justification)."""

    value: str
    collapse_over: int = TEXT_COLLAPSE

    @property
    def long(self) -> bool:
        return len(self.value) > self.collapse_over

    @property
    def preview(self) -> str:
        cut = self.value[: self.collapse_over // 2].rsplit(" ", 1)[0]
        return cut + " …"

    @property
    def size(self) -> str:
        return f"{len(self.value.split()):,} words, {len(self.value):,} characters"


Cell = Union[str, Text]


@dataclass
class Table:
    columns: list[str]
    rows: Sequence[Sequence[Cell]]  # read-only: a list of rows of plain strings is one too
    caption: str = ""
    numeric: frozenset[int] = frozenset()  # column indexes right-aligned
    collapsed: bool = False  # HTML: inside a <details>
    group_column: int | None = None  # HTML: repeated values in this column shown once


@dataclass
class FigureRef:
    name: str
    caption: str = ""


@dataclass
class KeyValues:
    items: Sequence[tuple[str, Cell]]
    caption: str = ""
    columns: int = 1  # HTML: key/value pairs per row


@dataclass
class Note:
    text: str
    level: str = "info"  # info | warn


@dataclass
class PairExample:
    title: str
    facts: list[tuple[str, str]]
    texts: list[tuple[str, Text]]


Block = Union[Table, FigureRef, KeyValues, Note, PairExample]


@dataclass
class Section:
    id: str
    title: str
    intro: str = ""
    blocks: list[Block] = field(default_factory=list)
    omitted: str | None = None  # reason, when the run lacks what the section needs

    @property
    def present(self) -> bool:
        return self.omitted is None


# -- number formatting ---------------------------------------------------------------------------
def _isnan(v: Any) -> bool:
    if v is None:
        return True
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def fmt_num(v: Any, digits: int = 3) -> str:
    if _isnan(v):
        return "—"
    try:
        return f"{float(v):.{digits}f}"
    except (TypeError, ValueError):
        return str(v)


def fmt_score(v: Any) -> str:
    return "—" if _isnan(v) else f"{float(v):+.3f}"


def fmt_p(v: Any) -> str:
    if _isnan(v):
        return "—"
    v = float(v)
    return "<0.001" if v < 0.001 else f"{v:.3f}"


def fmt_pct(v: Any, digits: int = 1) -> str:
    return "—" if _isnan(v) else f"{100 * float(v):.{digits}f}%"


def fmt_int(v: Any) -> str:
    if _isnan(v):
        return "—"
    try:
        return f"{int(v):,}"
    except (TypeError, ValueError):
        return str(v)


def fmt_value(v: Any, long_over: int = 120) -> Cell:
    """Any cell value from a table or JSON: bools yes/no, ints with separators, floats 4 significant
    digits, lists/dicts as JSON, long strings as :class:`Text`."""
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}" if abs(int(v)) >= 10_000 else str(int(v))
    if isinstance(v, (float, np.floating)):
        if math.isnan(v):
            return "—"
        if float(v).is_integer() and abs(v) < 1e15:
            return str(int(v))
        return f"{float(v):.4g}"
    if v is None:
        return "—"
    if isinstance(v, (list, tuple, dict, np.ndarray)):
        if isinstance(v, np.ndarray):
            v = v.tolist()
        s = json.dumps(v, ensure_ascii=False, sort_keys=True, default=str)
    else:
        s = str(v)
    return Text(s) if len(s) > long_over else s


def frame_table(df: pd.DataFrame, caption: str = "", source: str = "", max_rows: int = MAX_TABLE_ROWS) -> list[Block]:
    """A DataFrame as a :class:`Table` (and a note when rows are left out)."""
    cols = [str(c) for c in df.columns]
    shown = df.head(max_rows)
    rows = [[fmt_value(v) for v in rec] for rec in shown.itertuples(index=False, name=None)]
    numeric = frozenset(i for i, c in enumerate(df.columns) if pd.api.types.is_numeric_dtype(df[c])
                        and not pd.api.types.is_bool_dtype(df[c]))
    out: list[Block] = [Table(cols, rows, caption, numeric)]
    if len(df) > max_rows:
        where = f" (all rows: {source})" if source else ""
        out.append(Note(f"showing the first {max_rows} of {len(df):,} rows{where}"))
    return out
