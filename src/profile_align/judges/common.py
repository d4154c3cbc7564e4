"""What every model judge shares: its result record, answers.parquet rows, failure counts."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..backends import Client, RequestFailed, Response
from ..data.model import Output, Pair, Preference
from ..diagnostics.answers import input_key  # one definition of the answers table's input_key
from ..rundir import ANSWER_COLUMNS
from .base import JudgeKind

__all__ = ["JudgeResult", "answer_row", "input_key", "is_echo", "FailureCounter", "answers_frame", "parsed_json"]


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip().lower()


def is_echo(answer: str | None, prompt_texts: list[str], min_chars: int = 12) -> bool:
    """True when a free-text answer copies a sentence of the judge's own instructions verbatim
    (not the source: quoting the article is allowed). Short answers never count."""
    if not answer or len(answer.strip()) < min_chars:
        return False
    a = _norm(answer)
    return any(a in _norm(p) for p in prompt_texts if p)


def answer_row(stage: str, prompt_type: str, model: str, item_id: str, ikey: str, variant: str,
               answer: str | None, valid: bool, resp: Response | RequestFailed, echo: bool = False) -> dict[str, Any]:
    ok = isinstance(resp, Response)
    return {"stage": stage, "prompt_type": prompt_type, "model": model, "item_id": item_id, "input_key": ikey,
            "variant": variant, "answer": answer, "valid": bool(valid),
            "finish_reason": (resp.finish_reason if ok else "error") or "", "cached": bool(ok and resp.cached),
            "echo": bool(echo)}


def answers_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(ANSWER_COLUMNS))


class FailureCounter:
    """``{"<stage>/<prompt_type>": {"requests", "failed", "parse_failed"}}`` as in manifest.json, plus reasons."""

    def __init__(self) -> None:
        self.counts: dict[str, dict[str, int]] = {}
        self.reasons: Counter = Counter()

    def request(self, stage: str, prompt_type: str, resp: Response | RequestFailed, parsed_ok: bool) -> None:
        c = self.counts.setdefault(f"{stage}/{prompt_type}", {"requests": 0, "failed": 0, "parse_failed": 0})
        c["requests"] += 1
        if isinstance(resp, RequestFailed):
            c["failed"] += 1
            self.reasons[f"{prompt_type}: request failed ({resp.error_type or 'error'})"] += 1
        elif not parsed_ok:
            c["parse_failed"] += 1

    def reason(self, text: str, n: int = 1) -> None:
        self.reasons[text] += n

    def to_dict(self) -> dict[str, Any]:
        return {k: dict(v) for k, v in self.counts.items()}


@dataclass
class JudgeResult:
    """What a model judge produced: new outputs/pairs (generation), preferences, the answers it used,
    failure counts and judge-specific statistics (e.g. position bias)."""

    name: str
    kind: JudgeKind  # a plain string is parsed into the enum
    model: str | None
    policy: str
    preferences: list[Preference] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)
    pairs: list[Pair] = field(default_factory=list)
    answers: pd.DataFrame = field(default_factory=lambda: answers_frame([]))
    failures: FailureCounter = field(default_factory=FailureCounter)
    stats: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # extra tables, e.g. rewards
    setting: str | None = None  # evaluation | generation; default: the kind's own (human: evaluation)
    label: str | None = None  # the config's name of the judge
    # the same judge's verdicts under another protocol (e.g. "first_order": only the (A, B) order asked)
    protocols: dict[str, list[Preference]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.kind = JudgeKind.parse(self.kind)
        if self.setting is None:
            self.setting = "generation" if self.kind == JudgeKind.GENERATION else "evaluation"

    @property
    def n_failed(self) -> int:
        return sum(c["failed"] + c["parse_failed"] for c in self.failures.counts.values())

    def manifest_entry(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind.value, "setting": self.setting, "label": self.label,
                "model": self.model, "policy": self.policy,
                "n_pairs": len(self.preferences), "n_failed": self.n_failed,
                "failure_reasons": dict(self.failures.reasons), **self.stats}


def parsed_json(client: Client, resp: Response | RequestFailed) -> Any:
    """The JSON value of a response or None (parse failure counted by the client's accounting)."""
    if isinstance(resp, RequestFailed):
        return None
    if resp.parsed is not None:
        return resp.parsed
    from ..backends import ParseError, extract_json

    try:
        return extract_json(resp.text)
    except ParseError:
        return None
