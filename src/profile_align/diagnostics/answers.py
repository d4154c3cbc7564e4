"""Per-prompt-type answer statistics from an answers table (``rundir.ANSWER_COLUMNS``).

One row per (prompt_type, model): how many answers, their distribution, how many distinct answers for how
many distinct inputs, position dependence (pairwise: first-position win rate, flip rate and position-only
rate under swap; per-fact: correlation of the verdict with the fact index), echo, invalid and truncation
rates (failed, empty and truncated calls come from the call records, see ``sources.py``). Every stage builds
its rows with :func:`answer_row` (the one builder) so every stage fills the columns the same way.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from ..backends.base import is_scoring_request
from ..backends.records import input_key
from ..rundir import ANSWER_COLUMNS

__all__ = [
    "PAIRWISE_VARIANTS",
    "VERDICT_VALUES",
    "STAT_COLUMNS",
    "answer_row",
    "answers_frame",
    "answer_stats",
    "input_key",
    "is_echo",
    "normalise_answer",
    "verdict_value",
]

PAIRWISE_VARIANTS = frozenset({"AB", "BA"})

# Numeric value of a verdict label, for the correlation of per-fact verdicts with the fact index.
VERDICT_VALUES: dict[str, float] = {
    "yes": 1.0, "no": 0.0, "true": 1.0, "false": 0.0,
    "supported": 1.0, "unsupported": 0.0, "not supported": 0.0,
    "aligned": 1.0, "partially aligned": 0.5, "partially": 0.5, "not aligned": 0.0,
}

# Underlying winner of a pairwise answer given the order shown ("AB": output A was shown first).
_WINNER = {("AB", "1"): "A", ("AB", "2"): "B", ("BA", "1"): "B", ("BA", "2"): "A",
           ("AB", "tie"): "tie", ("BA", "tie"): "tie"}

STAT_COLUMNS = (
    "prompt_type", "model", "stages", "kind", "n", "n_valid", "distribution", "top_answer", "top_share",
    "distinct_answers", "distinct_inputs", "distinct_ratio",
    "first_position_win_rate", "n_both_orders", "flip_rate", "position_only_rate",
    "index_corr", "n_index",
    "n_echo", "echo_rate", "n_invalid", "invalid_rate", "n_truncated", "truncation_rate",
)


def normalise_answer(answer: Any) -> str | None:
    """Lower-cased, stripped label; None/NaN/"" -> None."""
    if answer is None or (isinstance(answer, float) and math.isnan(answer)):
        return None
    if isinstance(answer, bool):
        return "true" if answer else "false"
    s = str(answer).strip().lower()
    return s or None


def verdict_value(answer: Any) -> float | None:
    """Numeric value of a verdict label (``VERDICT_VALUES``) or of a number; None otherwise."""
    a = normalise_answer(answer)
    if a is None:
        return None
    if a in VERDICT_VALUES:
        return VERDICT_VALUES[a]
    try:
        v = float(a)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def _squash(text: str) -> str:
    return " ".join(str(text).lower().split()).strip(" .\"'")


def _forms(value: Any) -> set[str]:
    """Comparable forms of an answer: squashed text, and the canonical JSON dump when it parses as JSON."""
    if value is None:
        return set()
    if not isinstance(value, str):
        return {_squash(json.dumps(value, sort_keys=True, ensure_ascii=False))}
    forms = {_squash(value)}
    try:
        forms.add(_squash(json.dumps(json.loads(value), sort_keys=True, ensure_ascii=False)))
    except ValueError:
        pass
    return forms - {""}


def is_echo(answer: Any, shown: Iterable[Any], min_chars: int = 12) -> bool:
    """True when an answer copies what the prompt showed instead of answering: it equals one of the
    ``shown`` texts (an example answer; case, white space and JSON formatting aside), or, being at least
    ``min_chars`` long, appears verbatim inside one (a sentence of the instructions). Quoting the article
    is allowed: pass only the instructions and example answers, not the text under judgement."""
    forms = _forms(answer)
    if not forms:
        return False
    shown = [x for x in shown if x is not None]
    if any(forms & _forms(ex) for ex in shown):
        return True
    long_forms = [f for f in forms if len(f) >= min_chars]
    if not long_forms:
        return False
    haystacks = [_squash(x if isinstance(x, str) else json.dumps(x, sort_keys=True, ensure_ascii=False))
                 for x in shown]
    return any(f in h for f in long_forms for h in haystacks)


def answer_row(
    stage: str,
    request: Any,
    response: Any,
    *,
    item_id: Any,
    variant: Any = None,
    answer: Any = None,
    valid: bool | None = None,
    examples: Iterable[Any] = (),
    model: str | None = None,
    echo: bool | None = None,
) -> dict[str, Any]:
    """The one builder of answers-table rows (``rundir.ANSWER_COLUMNS``), from a backend ``Request`` and its
    ``Response`` (or ``RequestFailed``). Factors, judges, probes and experiments all use it.

    ``answer`` is the normalised label the stage used (None when it could not read one); ``valid`` defaults
    to ``answer is not None`` and is False for a failed request; ``examples`` are texts the prompt showed
    (example answers, instructions) for the echo column, or ``echo`` gives it directly. ``model`` is the
    model string (``Client.model``; default: the response's model). ``finish_reason`` is ``failed`` for a
    failed request and ``logprobs`` for a one-token scoring request (cut off by design).
    """
    failed = not hasattr(response, "text")
    text = None if failed else response.text
    finish = "failed" if failed else ("logprobs" if is_scoring_request(request) else (response.finish_reason or ""))
    if echo is None:
        examples = list(examples)
        echo = not failed and (is_echo(text, examples) or is_echo(answer, examples))
    return {
        "stage": stage,
        "prompt_type": getattr(request, "prompt_type", "default"),
        "model": model or ("" if failed else (response.model or "")),
        "item_id": str(item_id),
        "input_key": input_key(request.messages),
        "variant": None if variant is None else str(variant),
        "answer": None if failed else normalise_answer(answer),
        "valid": False if failed else bool(answer is not None if valid is None else valid),
        "finish_reason": finish,
        "cached": False if failed else bool(response.cached),
        "echo": bool(echo) and not failed,
    }


def answers_frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """An answers table (``rundir.ANSWER_COLUMNS``) from :func:`answer_row` rows."""
    return pd.DataFrame(list(rows), columns=list(ANSWER_COLUMNS))


def _as_bool(s: pd.Series) -> pd.Series:
    if s.dtype == bool:
        return s
    return s.map(lambda v: str(v).strip().lower() in ("true", "1", "yes") if v is not None and v == v else False)


def _pairwise(df: pd.DataFrame) -> dict[str, Any]:
    valid = df[df["valid"] & df["answer"].notna()]
    decisive = valid[valid["answer"].isin(["1", "2"])]
    first = float((decisive["answer"] == "1").mean()) if len(decisive) else float("nan")
    both = flips = same_pos = 0
    for _, g in valid.groupby("item_id", sort=False):
        by_var = {v: a for v, a in zip(g["variant"], g["answer"])}  # last answer per order
        if "AB" not in by_var or "BA" not in by_var:
            continue
        wa, wb = _WINNER.get(("AB", by_var["AB"])), _WINNER.get(("BA", by_var["BA"]))
        if wa is None or wb is None:
            continue
        both += 1
        flips += wa != wb
        same_pos += by_var["AB"] == by_var["BA"] and by_var["AB"] in ("1", "2")
    return {"first_position_win_rate": first, "n_both_orders": both,
            "flip_rate": flips / both if both else float("nan"),
            "position_only_rate": same_pos / both if both else float("nan")}


def _index_corr(df: pd.DataFrame) -> tuple[float, int]:
    valid = df[df["valid"]]
    idx = pd.to_numeric(valid["variant"], errors="coerce")
    val = valid["answer"].map(verdict_value)
    ok = idx.notna() & val.notna()
    n = int(ok.sum())
    if n < 3:
        return float("nan"), n
    x, y = idx[ok].to_numpy(float), val[ok].astype(float).to_numpy()
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan"), n
    from scipy.stats import spearmanr

    return float(spearmanr(x, y).statistic), n


def _kind(df: pd.DataFrame) -> str:
    variants = set(df["variant"].dropna().astype(str))
    if variants and variants <= PAIRWISE_VARIANTS:
        return "pairwise"
    stages = set(df["stage"].dropna().astype(str))
    if variants and "generation" not in stages and pd.to_numeric(pd.Series(sorted(variants)), errors="coerce").notna().all():
        return "per_item"  # per-fact (variant = fact index)
    return "single"


def _prepare(answers: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ("prompt_type", "model", "answer", "valid") if c not in answers.columns]
    if missing:
        raise ValueError(f"answers table lacks columns {missing}; expected rundir.ANSWER_COLUMNS")
    df = answers.copy()
    for c in ANSWER_COLUMNS:
        if c not in df.columns:
            df[c] = False if c in ("valid", "cached", "echo") else None
    df["answer"] = df["answer"].map(normalise_answer)
    df["valid"] = _as_bool(df["valid"])
    df["echo"] = _as_bool(df["echo"])
    df["variant"] = df["variant"].map(lambda v: None if v is None or v != v else str(v))
    df["model"] = df["model"].fillna("").astype(str)
    df["finish_reason"] = df["finish_reason"].fillna("").astype(str)
    return df


def answer_stats(answers: pd.DataFrame) -> pd.DataFrame:
    """One row per (prompt_type, model) with the columns of ``STAT_COLUMNS`` (rates in 0-1, NaN = n/a)."""
    if answers is None or len(answers) == 0:
        return pd.DataFrame(columns=list(STAT_COLUMNS))
    df = _prepare(answers)
    rows = []
    for (pt, model), g in df.groupby(["prompt_type", "model"], sort=True, dropna=False):
        n = len(g)
        valid = g[g["valid"] & g["answer"].notna()]
        counts = valid["answer"].value_counts()
        n_valid = len(valid)
        dist = {str(k): round(v / n_valid, 4) for k, v in counts.items()} if n_valid else {}
        truncated = g["finish_reason"].str.lower().eq("length")
        kind = _kind(g)
        row: dict[str, Any] = {
            "prompt_type": pt, "model": model, "stages": ",".join(sorted(set(g["stage"].dropna().astype(str)))),
            "kind": kind, "n": n, "n_valid": n_valid, "distribution": dist,
            "top_answer": str(counts.index[0]) if n_valid else None,
            "top_share": float(counts.iloc[0] / n_valid) if n_valid else float("nan"),
            "distinct_answers": int(valid["answer"].nunique()),
            "distinct_inputs": int(g["input_key"].nunique()) if g["input_key"].notna().any() else int(g["item_id"].nunique()),
            "first_position_win_rate": float("nan"), "n_both_orders": 0, "flip_rate": float("nan"),
            "position_only_rate": float("nan"), "index_corr": float("nan"), "n_index": 0,
            "n_echo": int(g["echo"].sum()), "n_invalid": int(n - n_valid), "n_truncated": int(truncated.sum()),
        }
        row["distinct_ratio"] = row["distinct_answers"] / row["distinct_inputs"] if row["distinct_inputs"] else float("nan")
        if kind == "pairwise":
            row.update(_pairwise(g))
        elif kind == "per_item":
            row["index_corr"], row["n_index"] = _index_corr(g)
        for name in ("echo", "invalid", "truncated"):
            row[f"{'truncation' if name == 'truncated' else name}_rate"] = row[f"n_{name}"] / n if n else float("nan")
        rows.append(row)
    return pd.DataFrame(rows, columns=list(STAT_COLUMNS))
