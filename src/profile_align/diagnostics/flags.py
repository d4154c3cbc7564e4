"""Flag rules: degenerate judges and extractors, with documented, configurable thresholds.

Each rule looks at one row of the per-prompt statistics (one prompt type x model) and returns its counts and
an evidence sentence when it fires. Rules live in the ``FLAG_RULES`` registry; add one with :func:`flag_rule`.
A rule may *suppress* another for the same row when it explains it better (a judge that always answers
"1" is reported as ``position_only``, not also as ``constant_judge``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

__all__ = ["Thresholds", "Flag", "FlagRule", "FLAG_RULES", "flag_rule", "evaluate_flags"]


@dataclass(frozen=True)
class Thresholds:
    """When a flag is raised (defaults documented in docs/diagnostics.md).

    ``overrides`` maps a prompt type to field values for it alone, e.g.
    ``{"fact_support": {"constant_share": 1.0}}`` for a faithful data set whose facts are nearly all supported.
    """

    min_answers: int = 10
    """Fewer valid answers than this: no constant / position / echo verdict (a note says so)."""
    constant_share: float = 0.98
    """constant_judge: the most frequent answer has at least this share of the valid answers."""
    min_both_orders: int = 5
    """position_only (pairwise): at least this many pairs answered in both orders."""
    position_only_rate: float = 0.8
    """position_only (pairwise): share of both-order pairs given the same position label ("1"/"1" or "2"/"2")."""
    index_corr: float = 0.8
    """position_only (per-fact): |Spearman correlation| of the verdict with the fact index."""
    echo_rate: float = 0.2
    """echoing_judge: share of answers equal to an example shown in the prompt."""
    max_failure_rate: float = 0.05
    """high_failure_rate: failed, unparseable or refused calls above this share (calls whose reply was cut off
    by max_tokens count as failures but raise high_truncation instead of this flag)."""
    max_truncation_rate: float = 0.05
    """high_truncation: replies cut off by max_tokens (finish_reason "length") above this share."""
    overrides: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = {f.name for f in fields(self)} - {"overrides"}
        for pt, values in self.overrides.items():
            bad = set(values) - names
            if bad:
                raise ValueError(f"unknown threshold(s) {sorted(bad)} for prompt type {pt!r}; known: {sorted(names)}")
        for name in ("constant_share", "position_only_rate", "index_corr", "echo_rate", "max_failure_rate",
                     "max_truncation_rate"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"threshold {name} must be within 0..1, got {v}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | Thresholds | None) -> Thresholds:
        """From a config mapping (unknown keys are an error) or an existing instance."""
        if values is None:
            return cls()
        if isinstance(values, Thresholds):
            return values
        names = {f.name for f in fields(cls)}
        bad = set(values) - names
        if bad:
            raise ValueError(f"unknown diagnostics threshold(s) {sorted(bad)}; known: {sorted(names)}")
        return cls(**dict(values))

    def for_prompt(self, prompt_type: str) -> Thresholds:
        over = self.overrides.get(prompt_type)
        values: dict[str, Any] = dict(over or {})
        return replace(self, **values) if values else self

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["overrides"] = {k: dict(v) for k, v in self.overrides.items()}
        return d


@dataclass(frozen=True)
class Flag:
    flag: str
    prompt_type: str
    model: str
    evidence: str
    """The evidence in one sentence, with its counts."""
    counts: dict[str, Any]
    """The counts and rates behind the flag."""
    advice: str

    def to_dict(self) -> dict[str, Any]:
        return {"flag": self.flag, "prompt_type": self.prompt_type, "model": self.model,
                "evidence": self.evidence, "counts": self.counts, "advice": self.advice}


RuleFn = Callable[[Mapping[str, Any], Thresholds], "tuple[dict[str, Any], str] | None"]
"""``fn(row, thresholds) -> (counts, evidence sentence)`` or None."""


@dataclass(frozen=True)
class FlagRule:
    name: str
    fn: RuleFn
    advice: str
    suppresses: tuple[str, ...] = ()


FLAG_RULES: dict[str, FlagRule] = {}


def flag_rule(name: str, advice: str, suppresses: tuple[str, ...] = ()) -> Callable[[RuleFn], RuleFn]:
    """Register ``fn(row, thresholds) -> (counts, evidence) | None`` as flag ``name``."""

    def deco(fn: RuleFn) -> RuleFn:
        FLAG_RULES[name] = FlagRule(name, fn, advice, suppresses)
        return fn

    return deco


def _num(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return math.nan
    return v


def _enough(row: Mapping[str, Any], th: Thresholds) -> bool:
    return int(row.get("n_valid") or 0) >= th.min_answers


@flag_rule(
    "constant_judge",
    "The answers do not depend on the input. Use a bigger model or another prompt variant, and make sure the "
    "prompt shows no example answer that the model can copy.",
)
def _constant(row: Mapping[str, Any], th: Thresholds):
    share = _num(row.get("top_share"))
    if not _enough(row, th) or int(row.get("distinct_inputs") or 0) < 2 or not share >= th.constant_share:
        return None
    n_valid = int(row["n_valid"])
    n_top = int(round(share * n_valid))
    ev = {"answer": row.get("top_answer"), "n_same": n_top, "n_valid": n_valid,
          "distinct_answers": int(row.get("distinct_answers") or 0), "distinct_inputs": int(row["distinct_inputs"])}
    return ev, (f"answer {row.get('top_answer')!r} in {n_top}/{n_valid} valid answers "
                f"for {ev['distinct_inputs']} distinct inputs")


@flag_rule(
    "position_only",
    "The verdict follows the position of the text, not its content. Run both orders and call a disagreement a "
    "tie, try another prompt variant, or use a bigger model; for per-fact verdicts ask about one fact per "
    "request or shuffle the fact order.",
    suppresses=("constant_judge",),
)
def _position(row: Mapping[str, Any], th: Thresholds):
    if row.get("kind") == "pairwise":
        both = int(row.get("n_both_orders") or 0)
        rate = _num(row.get("position_only_rate"))
        if both < th.min_both_orders or not rate >= th.position_only_rate:
            return None
        n_same = int(round(rate * both))
        ev = {"n_both_orders": both, "n_same_position": n_same, "flip_rate": round(_num(row.get("flip_rate")), 4),
              "first_position_win_rate": round(_num(row.get("first_position_win_rate")), 4)}
        return ev, (f"same position label in both orders for {n_same}/{both} pairs "
                    f"(first-position wins {ev['first_position_win_rate']:.0%})")
    if row.get("kind") == "per_item":
        corr, n = _num(row.get("index_corr")), int(row.get("n_index") or 0)
        if n < th.min_answers or not abs(corr) >= th.index_corr:
            return None
        ev = {"index_corr": round(corr, 4), "n": n}
        return ev, f"verdict correlates with the fact index (Spearman {corr:+.2f} over {n} verdicts)"
    return None


@flag_rule(
    "echoing_judge",
    "The model copies an example shown in the prompt. Remove example answers from the prompt (small models "
    "copy them) or use a bigger model.",
    suppresses=("constant_judge",),
)
def _echo(row: Mapping[str, Any], th: Thresholds):
    n, n_echo = int(row.get("n") or 0), int(row.get("n_echo") or 0)
    if n == 0 or n_echo == 0 or n_echo / n < th.echo_rate:
        return None
    return {"n_echo": n_echo, "n": n}, f"{n_echo}/{n} answers equal an example from the prompt"


@flag_rule(
    "high_failure_rate",
    "Requests failed or replies could not be read: look at the failed calls in the call records "
    "(profile_align.backends.Cache(path).records().to_frame()), check the server, or use a model that follows the JSON "
    "format. Unreadable answers are never guessed, so the factor or verdict is missing for those items.",
)
def _failures(row: Mapping[str, Any], th: Thresholds):
    rate = _num(row.get("failure_rate"))
    n_total = int(row.get("n_total") or 0)
    not_truncated = int(row.get("n_failed_not_truncated", row.get("n_failed")) or 0)
    if not rate > th.max_failure_rate or not_truncated == 0 or not not_truncated / n_total > th.max_failure_rate:
        return None
    ev = {k: int(row.get(k) or 0) for k in ("n_failed", "n_total", "n_invalid", "n_truncated", "calls",
                                            "failed_calls", "unparseable_calls", "refused_calls", "empty_calls")}
    return ev, f"{ev['n_failed']}/{ev['n_total']} failed or unreadable ({rate:.0%} > {th.max_failure_rate:.0%})"


@flag_rule(
    "high_truncation",
    "Replies were cut off by max_tokens: raise max_tokens, or give every JSON string a maxLength so the "
    "reply fits.",
)
def _truncation(row: Mapping[str, Any], th: Thresholds):
    rate = _num(row.get("truncation_rate"))
    if not rate > th.max_truncation_rate:
        return None
    ev = {"n_truncated": int(row.get("n_truncated_all") or 0), "n_total": int(row.get("n_total") or 0)}
    return ev, f"{ev['n_truncated']}/{ev['n_total']} replies cut off by max_tokens ({rate:.0%})"


def evaluate_flags(rows: list[Mapping[str, Any]], thresholds: Thresholds) -> list[Flag]:
    """Every registered rule on every row; suppressed flags are dropped (same prompt type and model)."""
    flags: list[Flag] = []
    for row in rows:
        th = thresholds.for_prompt(str(row.get("prompt_type")))
        fired: dict[str, tuple[dict[str, Any], str]] = {}
        for name, rule in FLAG_RULES.items():
            out = rule.fn(row, th)
            if out is not None:
                fired[name] = out
        suppressed = {s for name in fired for s in FLAG_RULES[name].suppresses}
        for name, (counts, evidence) in fired.items():
            if name in suppressed:
                continue
            flags.append(Flag(name, str(row.get("prompt_type")), str(row.get("model")), evidence, counts,
                              FLAG_RULES[name].advice))
    return flags
