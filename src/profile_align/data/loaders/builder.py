"""Assemble a :class:`Dataset` from parsed rows: deduplicated outputs, deterministic ids, pseudo-random
orientation of rating-derived pairs, vote aggregation, tie dropping and the load report counts."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from ..dataset import Dataset, LoadReport
from ..model import Example, Output, Pair, Preference, Verdict, text_hash

__all__ = ["DatasetBuilder", "VoteTable", "flip", "exact_rating", "HUMAN", "RATING_RESOLUTION"]

HUMAN = "human"

# Ratings are Likert scores or means of a few of them (SummEval: 3 experts, TL;DR: a few workers), so
# every rating is a fraction with a small denominator; a float is read back as the nearest such fraction.
RATING_RESOLUTION = 1000


def exact_rating(x: float | int | Fraction) -> Fraction:
    """A rating as an exact fraction: the nearest fraction with denominator <= 1000.

    Exact for means of up to 1,000 integer ratings and for values written with up to 3 decimals
    (``3.6666666666666665`` -> 11/3, ``3.667`` -> 3667/1000), so equal means compare equal: float
    averaging makes ``(4.0 + 5 + 5 + 11/3) / 4`` and ``(11/3 + 5 + 5 + 4.0) / 4`` differ in the last digit,
    which would turn a tie into a preference.
    """
    if isinstance(x, Fraction):
        return x
    return Fraction(x).limit_denominator(RATING_RESOLUTION)


def flip(pair_id: str, seed: int) -> bool:
    """Deterministic pseudo-random coin for a pair id: True -> swap the sides."""
    return hashlib.sha256(f"{seed}:{pair_id}".encode()).digest()[0] & 1 == 1


def _sign(x: float | Fraction) -> Verdict:
    return Verdict.A if x > 0 else Verdict.B if x < 0 else Verdict.TIE


@dataclass
class _Ex:
    id: str
    input: str
    title: str | None
    sources: list[str]
    metadata: dict[str, Any]


@dataclass
class _Pending:
    pair: Pair
    verdict: Verdict
    strength: float | None
    metadata: dict[str, Any]
    judges: dict[str, Verdict] = field(default_factory=dict)  # other judges' verdicts on this pair


@dataclass
class DatasetBuilder:
    """Collects examples, outputs and pairs; :meth:`finish` applies the limit and drops ties."""

    examples: dict[str, _Ex] = field(default_factory=dict)
    outputs: dict[str, Output] = field(default_factory=dict)
    _by_text: dict[tuple[str, str, tuple[str, ...] | None], str] = field(default_factory=dict)
    _key: dict[str, str] = field(default_factory=dict)   # output id -> short key used in pair ids
    pairs: dict[str, _Pending] = field(default_factory=dict)
    limit: int | None = None         # keep the first N examples (in order of first appearance)
    keep_ties: bool = False          # keep human ties as tie verdicts (else dropped and counted)
    identical: int = 0
    beyond_limit: int = 0

    # -- examples and outputs -------------------------------------------------------------
    def example(self, id: str, input: str, *, title: str | None = None, sources: Sequence[str] = (),
                metadata: Mapping[str, Any] | None = None) -> str | None:
        """Add an example (a repeated id keeps the first text; new sources are appended, deduplicated).

        Returns ``None`` (and counts the row as dropped) for a new example beyond ``limit``.
        """
        ex = self.examples.get(id)
        if ex is None:
            if self.limit is not None and len(self.examples) >= self.limit:
                self.beyond_limit += 1
                return None
            ex = self.examples[id] = _Ex(id, input, title, [], dict(metadata or {}))
        for s in sources:
            if s not in ex.sources:
                ex.sources.append(s)
        return id

    def output(self, example_id: str, text: str, *, key: str | None = None, producer: str | None = None,
               metadata: Mapping[str, Any] | None = None, sources: Sequence[str] | None = None) -> str:
        """The id of the output with this text (and these own ``sources``) for this example (created on
        first use).

        The id is ``<example>::<key>`` (key: a system name, a comment id, a side) or
        ``<example>::<text hash>``; a key already taken by another text falls back to the hash (plus the
        hash of the sources when the same text comes with other own sources: a WebGPT answer cited with
        different quotes is a different output, read against its own quotes).
        """
        srcs = None if sources is None else tuple(sources)
        found = self._by_text.get((example_id, text, srcs))
        if found is not None:
            return found
        k = key or text_hash(text)
        oid = f"{example_id}::{k}"
        if oid in self.outputs:
            k = f"{key}-{text_hash(text)}" if key else f"{text_hash(text)}-{len(self.outputs)}"
            if srcs is not None:
                k = f"{key or text_hash(text)}-{text_hash(chr(0).join(srcs))[:8]}"
            oid = f"{example_id}::{k}"
        self.outputs[oid] = Output(oid, example_id, text, producer, dict(metadata or {}), srcs)
        self._by_text[(example_id, text, srcs)] = oid
        self._key[oid] = k
        return oid

    def set_output_metadata(self, output_id: str, **meta: Any) -> None:
        o = self.outputs[output_id]
        self.outputs[output_id] = dataclasses.replace(o, metadata={**o.metadata, **meta})

    # -- pairs -----------------------------------------------------------------------------
    def pair_id(self, example_id: str, a: str, b: str) -> str:
        return f"{example_id}::{self._key[a]}~{self._key[b]}"

    def pair(self, example_id: str, a: str, b: str, verdict: Verdict, *, strength: float | None = None,
             pair_id: str | None = None, metadata: Mapping[str, Any] | None = None,
             judges: Mapping[str, Verdict] | None = None, groups: Mapping[str, str] | None = None) -> str | None:
        """Add a pair in the given orientation with the human verdict (ties are dropped at finish
        unless ``keep_ties``), other judges' verdicts on it (``judges``: name -> verdict, in the same
        orientation) and its subgroup values (``groups``: column -> value, kept in the human
        preference's metadata under ``"groups"``).

        A pair of two identical texts is not a comparison: it is dropped and counted.
        """
        if a == b:
            self.identical += 1
            return None
        pid = pair_id or self.pair_id(example_id, a, b)
        if pid in self.pairs:
            raise ValueError(f"pair {pid!r} added twice")
        meta = dict(metadata or {})
        if groups:
            meta["groups"] = dict(groups)
        self.pairs[pid] = _Pending(Pair(pid, example_id, a, b), Verdict.parse(verdict), strength, meta,
                                   {k: Verdict.parse(v) for k, v in (judges or {}).items()})
        return pid

    def rated_pairs(self, example_id: str, ratings: Mapping[str, float | Fraction], seed: int,
                    groups: Mapping[str, str] | None = None) -> None:
        """All pairs of the rated outputs of one example; preference by rating, strength = |difference|.

        Ratings are compared exactly (:func:`exact_rating`): equal ratings are ties. Each pair's id does
        not depend on the orientation; the orientation is a seeded pseudo-random coin of the id, so A is
        the better output about half the time.
        """
        exact = {o: exact_rating(r) for o, r in ratings.items()}
        ids = sorted(exact, key=lambda o: self._key[o])
        for x, y in itertools.combinations(ids, 2):
            pid = self.pair_id(example_id, x, y)
            a, b = (y, x) if flip(pid, seed) else (x, y)
            diff = exact[a] - exact[b]
            self.pair(example_id, a, b, _sign(diff), strength=float(abs(diff)), pair_id=pid,
                      metadata={"rating_a": float(exact[a]), "rating_b": float(exact[b])}, groups=groups)

    # -- result ----------------------------------------------------------------------------
    def finish(self, name: str, task: str, report: LoadReport) -> Dataset:
        if self.beyond_limit:
            report.dropped[f"rows of examples beyond limit={self.limit}"] += self.beyond_limit
        if self.identical:
            report.dropped["pair of two identical texts"] += self.identical
        pairs, prefs = [], []
        for p in self.pairs.values():
            if p.verdict == Verdict.TIE:
                if not self.keep_ties:
                    report.ties_dropped += 1
                    continue
                report.ties_kept += 1
            pairs.append(p.pair)
            prefs.append(Preference(p.pair.id, HUMAN, p.verdict, p.strength, p.metadata))
            # a file's further label columns (--judges) judged its given pairs: the evaluation setting
            prefs.extend(Preference(p.pair.id, j, v, metadata={"kind": "evaluation"}) for j, v in p.judges.items())
        used_out = {x for p in pairs for x in (p.a, p.b)}
        used_ex = {p.example_id for p in pairs}
        examples = [Example(e.id, task, e.input, e.title, tuple(e.sources), e.metadata)
                    for e in self.examples.values() if e.id in used_ex]
        outputs = [o for o in self.outputs.values() if o.id in used_out]
        report.examples, report.outputs, report.pairs_built = len(examples), len(outputs), len(pairs)
        return Dataset(name, task, examples, outputs, pairs, prefs, report)


@dataclass
class VoteTable:
    """Several annotations of the same two outputs, aggregated into one preference.

    The pair keeps the orientation in which it was first seen. Each vote is +1 (first-seen A) or -1
    (first-seen B), optionally with a signed margin; the verdict is the majority (a split vote is a
    tie, dropped and counted), the strength the absolute mean margin.
    """

    _votes: dict[tuple[str, frozenset[str]], dict[str, Any]] = field(default_factory=dict)

    def add(self, example_id: str, a: str, b: str, vote: int, margin: float | None = None,
            groups: Mapping[str, str] | None = None) -> None:
        """One annotation (``groups``: the pair's subgroup values, taken from its first annotation)."""
        key = (example_id, frozenset((a, b)))
        entry = self._votes.setdefault(key, {"a": a, "b": b, "votes": [], "margins": [], "groups": groups})
        sign = 1 if entry["a"] == a else -1
        entry["votes"].append(vote * sign)
        if margin is not None:
            entry["margins"].append(margin * sign)

    def emit(self, builder: DatasetBuilder) -> None:
        for (example_id, _), e in self._votes.items():
            votes, margins = e["votes"], e["margins"]
            total = sum(votes)
            strength = abs(sum(margins) / len(margins)) if margins else None
            meta = {"annotations": len(votes), "votes_a": votes.count(1), "votes_b": votes.count(-1)}
            builder.pair(example_id, e["a"], e["b"], _sign(total), strength=strength, metadata=meta,
                         groups=e["groups"])
