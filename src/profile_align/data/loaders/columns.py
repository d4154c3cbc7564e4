"""Columns a format reads besides its own: declared preference labels (``label_map``), more judges'
label columns (``judges``) and metadata columns for per-subgroup scores (``group_by``).

Labels are declared, never guessed (see :mod:`.labels`): a column with values that neither the
label map nor the a/b/tie spellings declare is one error listing every such value with its lines
(with ``skip_invalid``: a rejection per row).
"""

from __future__ import annotations

from typing import Any

from ..dataset import InvalidInputError
from ..model import Verdict
from .io import Record, get_field
from .labels import format_label_map, label_verdict
from .registry import LoadContext

__all__ = ["declared_verdict", "check_declared", "row_judges", "row_groups", "pair_extras"]

_STATE = "undeclared_labels"


def _quote_values(values: dict[str, list[int | None]]) -> str:
    def lines(ls: list[int | None]) -> str:
        shown = ", ".join(str(x) for x in ls[:5]) + (f", ... ({len(ls)} rows)" if len(ls) > 5 else "")
        return f"line{'s' if len(ls) > 1 else ''} {shown}"

    return "; ".join(f"{v!r} ({lines(ls)})" for v, ls in values.items())


def declared_verdict(rec: Record, col: str, ctx: LoadContext, value: Any = None) -> Verdict | None:
    """The verdict the label in ``col`` declares. An undeclared label raises with ``skip_invalid``;
    without it, it is collected (``None`` returned) so that :func:`check_declared` can list every
    undeclared value of the column in one error."""
    if value is None:
        value = get_field(rec, col, (str, int, float))
    lm = ctx.options.label_map
    verdict = label_verdict(value, lm)
    if verdict is not None:
        return verdict
    key = str(value).strip()
    if lm is not None:
        reason = f"label {key!r} is not in the label map ({format_label_map(lm)})"
    else:
        reason = (f"label {key!r} has no declared meaning: without a label map only a, b, tie (model_a, "
                  f"response_b, ...) are read; declare the values, e.g. --label-map 0=a,1=b,2=tie")
    if ctx.options.skip_invalid:
        raise rec.fail(col, reason)
    per_col = ctx.state.setdefault(_STATE, {})
    first, values = per_col.setdefault(col, (rec, {}))
    values.setdefault(key, []).append(rec.line)
    return None


def check_declared(ctx: LoadContext) -> None:
    """Raise one error per load for the first column with undeclared labels (listing them all)."""
    for col, (first, values) in ctx.state.get(_STATE, {}).items():
        lm = ctx.options.label_map
        hint = (f"not in the label map ({format_label_map(lm)})" if lm
                else "without a declared meaning (only a, b, tie, model_a, response_b, ... are read without a "
                     "label map; declare the values, e.g. --label-map 0=a,1=b,2=tie)")
        raise InvalidInputError(first.path, first.line, col,
                                f"{len(values)} label value(s) {hint}: {_quote_values(values)}")


def row_judges(rec: Record, ctx: LoadContext) -> dict[str, Verdict]:
    """The verdicts of the extra judges (``judges``: name -> column) on this row's pair. A blank or
    null cell means that judge gave no verdict on this pair; a missing column is an error."""
    out: dict[str, Verdict] = {}
    for name, col in (ctx.options.judges or {}).items():
        value = get_field(rec, col, (str, int, float), required=False, nonempty=False, default=None)
        if col not in rec.data:
            raise rec.fail(col, f"missing field (the preference column of judge {name!r})")
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        v = declared_verdict(rec, col, ctx, value)
        if v is not None:
            out[name] = v
    return out


def row_groups(rec: Record, ctx: LoadContext) -> dict[str, str]:
    """The row's values of the ``group_by`` columns (as text; a blank cell is the group ``""``)."""
    out: dict[str, str] = {}
    for col in ctx.options.group_by:
        v = get_field(rec, col, (str, int, float, bool), nonempty=False)
        out[col] = str(v).strip()
    return out


def pair_extras(rec: Record, ctx: LoadContext) -> tuple[dict[str, Verdict], dict[str, str]]:
    """(extra judges' verdicts, group values) of one row."""
    return row_judges(rec, ctx), row_groups(rec, ctx)
