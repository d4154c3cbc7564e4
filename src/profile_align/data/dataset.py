"""A preference dataset: examples, outputs, pairs and one or more judges' preferences, plus the
load report that says what was read, built, dropped and rejected."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .model import Example, Output, Pair, Preference, Verdict, frame_to_records, records_to_frame

__all__ = ["Rejection", "LoadReport", "Dataset", "InvalidInputError"]


class InvalidInputError(ValueError):
    """Malformed input. The message names the file, the line (1-based) and the field."""

    def __init__(self, path: str, line: int | None, fieldname: str | None, reason: str) -> None:
        self.path, self.line, self.field, self.reason = path, line, fieldname, reason
        where = path
        if line is not None:
            where += f", line {line}"
        if fieldname:
            where += f", field {fieldname!r}"
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class Rejection:
    """A row that was skipped (only with ``skip_invalid``), with where and why."""

    path: str
    line: int | None
    field: str | None
    reason: str

    def __str__(self) -> str:
        return str(InvalidInputError(self.path, self.line, self.field, self.reason))


@dataclass
class LoadReport:
    """What a loader did. Every row read is accounted for: used, dropped (with a reason) or rejected."""

    source: str
    format: str
    rows_read: int = 0
    rows_valid: int = 0      # rows that passed validation (the others were rejected or dropped)
    examples: int = 0
    outputs: int = 0
    pairs_built: int = 0
    ties_dropped: int = 0
    ties_kept: int = 0       # human ties kept as tie verdicts (``keep_ties``): judge ties in tau_14
    dropped: Counter = field(default_factory=Counter)  # reason -> count (other than ties)
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def rows_rejected(self) -> int:
        return len(self.rejected)

    def summary_lines(self, listed_in: str | Path | None = None) -> list[str]:
        """The report for a terminal: counts, drop reasons and the first 20 rejected rows
        (``listed_in``: where the full list of rejected rows was written, said in the last line)."""
        lines = [
            f"{self.source} [{self.format}]: {self.rows_read} rows read, {self.examples} examples, "
            f"{self.outputs} outputs, {self.pairs_built} pairs, {self.ties_dropped} human ties dropped, "
            f"{self.rows_rejected} rows rejected"
        ]
        if self.ties_kept:
            lines.append(f"  kept {self.ties_kept} human ties (they enter tau_14 as judge ties)")
        for reason, n in sorted(self.dropped.items()):
            lines.append(f"  dropped {n}: {reason}")
        for r in self.rejected[:20]:
            lines.append(f"  rejected: {r}")
        if len(self.rejected) > 20:
            lines.append(f"  ... and {len(self.rejected) - 20} more rejected rows")
        if listed_in is not None and self.rejected:
            lines.append(f"  all {self.rows_rejected} rejected rows (file, line, field, reason) are listed in {listed_in}")
        return lines

    def rejections_frame(self) -> pd.DataFrame:
        """Every rejected row: file, line, field, reason (the list ``--skip-invalid`` writes)."""
        return pd.DataFrame([{"file": r.path, "line": r.line, "field": r.field, "reason": r.reason}
                             for r in self.rejected], columns=["file", "line", "field", "reason"])

    def write_rejections(self, path: str | Path) -> Path:
        """Write :meth:`rejections_frame` as CSV (UTF-8) to ``path``; returns the path."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        self.rejections_frame().to_csv(p, index=False)
        return p

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "format": self.format,
            "rows_read": self.rows_read,
            "rows_valid": self.rows_valid,
            "examples": self.examples,
            "outputs": self.outputs,
            "pairs_built": self.pairs_built,
            "ties_dropped": self.ties_dropped,
            "ties_kept": self.ties_kept,
            "dropped": dict(self.dropped),
            "rows_rejected": self.rows_rejected,
            "rejected": [str(r) for r in self.rejected],
        }


@dataclass
class Dataset:
    """Examples, outputs, pairs and preferences of one or more judges (the loaded labels are judge
    ``"human"``). Built by the loaders; every id is unique within its table."""

    name: str
    task: str
    examples: list[Example]
    outputs: list[Output]
    pairs: list[Pair]
    preferences: list[Preference]
    report: LoadReport | None = None

    def __post_init__(self) -> None:
        self._check_ids()

    def _check_ids(self) -> None:
        for label, items in (("example", self.examples), ("output", self.outputs), ("pair", self.pairs)):
            dup = [k for k, n in Counter(x.id for x in items).items() if n > 1]
            if dup:
                raise ValueError(f"duplicate {label} ids in dataset {self.name!r}: {dup[:5]}")
        ex = {e.id for e in self.examples}
        outs = {o.id: o for o in self.outputs}
        for o in self.outputs:
            if o.example_id not in ex:
                raise ValueError(f"output {o.id!r} refers to unknown example {o.example_id!r}")
        for p in self.pairs:
            for side in (p.a, p.b):
                if side not in outs:
                    raise ValueError(f"pair {p.id!r} refers to unknown output {side!r}")
                if outs[side].example_id != p.example_id:
                    raise ValueError(f"pair {p.id!r}: output {side!r} belongs to another example")
        pids = {p.id for p in self.pairs}
        for pr in self.preferences:
            if pr.pair_id not in pids:
                raise ValueError(f"preference of {pr.judge!r} refers to unknown pair {pr.pair_id!r}")

    # -- lookups ---------------------------------------------------------------------------
    @property
    def judges(self) -> list[str]:
        return sorted({p.judge for p in self.preferences})

    def example_map(self) -> dict[str, Example]:
        return {e.id: e for e in self.examples}

    def output_map(self) -> dict[str, Output]:
        return {o.id: o for o in self.outputs}

    def pair_map(self) -> dict[str, Pair]:
        return {p.id: p for p in self.pairs}

    def preferences_of(self, judge: str = "human") -> list[Preference]:
        prefs = [p for p in self.preferences if p.judge == judge]
        if not prefs:
            raise KeyError(f"dataset {self.name!r} has no preferences of judge {judge!r}; judges: {self.judges}")
        return prefs

    def with_preferences(self, prefs: Iterable[Preference]) -> Dataset:
        """A copy with more preferences added (e.g. a model judge's verdicts on the same pairs)."""
        return Dataset(self.name, self.task, self.examples, self.outputs, self.pairs,
                       [*self.preferences, *prefs], self.report)

    def sample(self, n_examples: int, seed: int = 0) -> Dataset:
        """A random subset of examples (with all their outputs, pairs and preferences)."""
        import random

        ids = sorted(e.id for e in self.examples)
        keep = set(ids if n_examples >= len(ids) else random.Random(seed).sample(ids, n_examples))
        return self.subset(keep)

    def subset(self, example_ids: Iterable[str]) -> Dataset:
        keep = set(example_ids)
        exs = [e for e in self.examples if e.id in keep]
        outs = [o for o in self.outputs if o.example_id in keep]
        pairs = [p for p in self.pairs if p.example_id in keep]
        pids = {p.id for p in pairs}
        prefs = [p for p in self.preferences if p.pair_id in pids]
        return Dataset(self.name, self.task, exs, outs, pairs, prefs, self.report)

    # -- bootstrap clusters ----------------------------------------------------------------
    def clusters(self) -> dict[str, str]:
        """Example id -> bootstrap cluster: examples with the same input text (and title and sources)
        form one cluster, named by the first such example. Loaders without example ids make one
        example per row; rows that share a prompt are not independent, so resampling them one by
        one would make the CIs too narrow."""
        first: dict[tuple[str, str | None, tuple[str, ...]], str] = {}
        return {e.id: first.setdefault((e.input, e.title, tuple(e.sources)), e.id) for e in self.examples}

    def cluster_note(self) -> str:
        """How the bootstrap clusters were formed, for the output."""
        n_clusters = len(set(self.clusters().values()))
        merged = len(self.examples) - n_clusters
        return (f"bootstrap clusters: {n_clusters} (examples with the same input text form one cluster; "
                f"{len(self.examples)} examples, {merged} merged into another's cluster)")

    # -- pandas ----------------------------------------------------------------------------
    def to_frames(self) -> dict[str, pd.DataFrame]:
        return {
            "examples": records_to_frame(self.examples, Example),
            "outputs": records_to_frame(self.outputs, Output),
            "pairs": records_to_frame(self.pairs, Pair),
            "preferences": records_to_frame(self.preferences, Preference),
        }

    def to_frame(self, judge: str | None = None) -> pd.DataFrame:
        """One row per (pair, judge): example id, both texts, verdict."""
        outs = self.output_map()
        pairs = self.pair_map()
        rows = []
        for pr in self.preferences:
            if judge is not None and pr.judge != judge:
                continue
            p = pairs[pr.pair_id]
            rows.append({
                "pair_id": p.id, "example_id": p.example_id, "output_a": p.a, "output_b": p.b,
                "text_a": outs[p.a].text, "text_b": outs[p.b].text,
                "judge": pr.judge, "verdict": pr.verdict.label, "strength": pr.strength,
            })
        return pd.DataFrame(rows, columns=["pair_id", "example_id", "output_a", "output_b", "text_a",
                                           "text_b", "judge", "verdict", "strength"])

    @classmethod
    def from_frames(cls, frames: dict[str, pd.DataFrame], name: str = "dataset", task: str = "generic") -> Dataset:
        return cls(
            name=name,
            task=task,
            examples=frame_to_records(frames["examples"], Example),
            outputs=frame_to_records(frames["outputs"], Output),
            pairs=frame_to_records(frames["pairs"], Pair),
            preferences=frame_to_records(frames["preferences"], Preference),
        )

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, task={self.task!r}, examples={len(self.examples)}, "
                f"outputs={len(self.outputs)}, pairs={len(self.pairs)}, preferences={len(self.preferences)}, "
                f"judges={self.judges})")


def verdict_counts(prefs: Sequence[Preference]) -> dict[str, int]:
    c = Counter(p.verdict for p in prefs)
    return {v.label: c.get(v, 0) for v in Verdict}
