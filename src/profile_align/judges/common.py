"""What every model judge shares: its result record, the calls it made, answers.parquet rows."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..backends import CallLog, Client, RequestFailed, Response
from ..backends.records import Records, input_key
from ..data.model import Output, Pair, Preference
from ..diagnostics.answers import answer_row, answers_frame, is_echo  # the one answer-row builder and echo test
from .base import JudgeKind

__all__ = ["JudgeResult", "JudgeCalls", "answer_row", "input_key", "is_echo", "answers_frame", "parsed_json"]


class JudgeCalls:
    """The calls a judge made (ids of their call records) and why items were skipped.

    Counts are derived from the call records (``backends/records.py``), never counted here: an answer the
    judge cannot use is marked ``unparseable`` on its record through ``Client.mark_unparseable``.
    """

    def __init__(self) -> None:
        self.call_ids: list[str] = []
        self.reasons: Counter = Counter()
        self._logs: list[CallLog] = []

    def add(self, client: Client, resp: Response | RequestFailed, usable: bool) -> None:
        """Tie one call to the judge; ``usable`` is the judge's verdict on the answer (False: unparseable)."""
        client.mark_usable(resp, usable)
        if isinstance(resp, RequestFailed):
            pt = resp.request.prompt_type if resp.request is not None else "?"
            self.reasons[f"{pt}: request failed ({resp.error_type or 'error'})"] += 1
        if resp.call_id:
            self.call_ids.append(resp.call_id)
        if not any(log is client.calls for log in self._logs):
            self._logs.append(client.calls)

    def reason(self, text: str, n: int = 1) -> None:
        self.reasons[text] += n

    def records(self) -> Records:
        ids = set(self.call_ids)
        return Records(r for log in self._logs for r in log.records() if r.call_id in ids)

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        """``{"<stage>/<prompt_type>": {"requests", "failed", "parse_failed", "refused"}}`` from the records."""
        return self.records().failure_counts()

    def to_dict(self) -> dict[str, Any]:
        return self.counts


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
    failures: JudgeCalls = field(default_factory=JudgeCalls)
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
        """Failed, unparseable or refused calls of this judge (from the call records)."""
        return self.failures.records().tally().n_bad

    @property
    def n_requests(self) -> int:
        return len(self.failures.records())

    def manifest_entry(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind.value, "setting": self.setting, "label": self.label,
                "model": self.model, "policy": self.policy,
                "n_pairs": len(self.preferences), "n_requests": self.n_requests, "n_failed": self.n_failed,
                "failure_reasons": dict(self.failures.reasons), **self.stats}


def parsed_json(client: Client, resp: Response | RequestFailed) -> Any:
    """The JSON value of a response or None (the caller marks an unusable answer: ``JudgeCalls.add``)."""
    if isinstance(resp, RequestFailed):
        return None
    if resp.parsed is not None:
        return resp.parsed
    from ..backends import ParseError, extract_json

    try:
        return extract_json(resp.text)
    except ParseError:
        return None
