"""Preference labels: declared, never guessed.

Without a label map only spellings whose meaning does not depend on the data set are read:
``a`` / ``b`` / ``tie`` (any case) and their common long forms (``model_a``, ``response_b``,
``output_a``, ``first``, ``second``, ``draw``, ``equal``, ``tie (bothbad)``). Numbers are not among them:
0/1/2 means "tie, a, b" in one data set and "a, b, tie" in another, so numeric (or any other) labels
need a label map, ``"0=a,1=b,2=tie"`` (``--label-map`` on the command line).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..model import Verdict

__all__ = ["LABEL_SPELLINGS", "parse_label_map", "label_verdict", "format_label_map"]

LABEL_SPELLINGS: dict[str, Verdict] = {
    **dict.fromkeys(("a", "model_a", "output_a", "response_a", "first"), Verdict.A),
    **dict.fromkeys(("b", "model_b", "output_b", "response_b", "second"), Verdict.B),
    **dict.fromkeys(("tie", "draw", "equal", "tie (bothbad)"), Verdict.TIE),
}


def _spelled(value: str) -> Verdict | None:
    return LABEL_SPELLINGS.get(value.strip().lower())


def parse_label_map(spec: str | Mapping[Any, Any] | None) -> dict[str, Verdict] | None:
    """``"0=a,1=b,2=tie"`` (or a dict ``{0: "a", "1": "b", ...}``) -> value -> :class:`Verdict`.

    Keys are compared with the cell's text (``str(value).strip()``); targets must be a, b or tie (or
    one of :data:`LABEL_SPELLINGS`). ``None`` -> ``None``.
    """
    if spec is None:
        return None
    if isinstance(spec, str):
        items: list[tuple[Any, Any]] = []
        for part in (x.strip() for x in spec.split(",")):
            if not part:
                continue
            key, sep, target = part.partition("=")
            if not sep or not key.strip() or not target.strip():
                raise ValueError(f"bad label-map item {part!r}: expected VALUE=a|b|tie, e.g. 0=a,1=b,2=tie")
            items.append((key, target))
    else:
        items = list(spec.items())
    out: dict[str, Verdict] = {}
    for key, target in items:
        k = str(key).strip()
        v = target if isinstance(target, Verdict) else _spelled(str(target))
        if v is None:
            raise ValueError(f"label map: {k!r} maps to {target!r}; expected a, b or tie")
        if k in out and out[k] != v:
            raise ValueError(f"label map: {k!r} is mapped twice")
        out[k] = v
    if not out:
        raise ValueError("the label map is empty; expected VALUE=a|b|tie items, e.g. 0=a,1=b,2=tie")
    return out


def format_label_map(label_map: Mapping[str, Verdict]) -> str:
    return ",".join(f"{k}={v.label}" for k, v in label_map.items())


def label_verdict(value: Any, label_map: Mapping[str, Verdict] | None = None) -> Verdict | None:
    """The verdict a label stands for, or ``None`` when it is not declared (unmapped, or a number
    without a map). ``value`` is a cell's text or a JSON scalar."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    text = str(value).strip()
    if label_map is not None:
        return label_map.get(text)
    if isinstance(value, str):
        return _spelled(text)
    return None
