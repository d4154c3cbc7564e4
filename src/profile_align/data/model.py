"""Frozen dataclasses of the PROFILE data model and their conversion to and from pandas.

Everything inside the package works on these immutable records; validation happens once, at the I/O
edge (the loaders), so the rest of the code can trust them.

Verdicts are encoded as integers so that statistics can use them directly: ``A = +1`` (the first
output of the pair is preferred), ``B = -1``, ``TIE = 0``.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

import pandas as pd

__all__ = [
    "Verdict",
    "Example",
    "Output",
    "Pair",
    "Preference",
    "FactorValue",
    "text_hash",
    "records_to_frame",
    "frame_to_records",
]


class Verdict(enum.IntEnum):
    """A judge's verdict on a pair (A, B)."""

    A = 1
    B = -1
    TIE = 0

    @classmethod
    def parse(cls, value: Any) -> Verdict:
        """Accept ``Verdict``, ``"a"/"b"/"tie"`` (any case), ``1/-1/0`` or ``"1"/"2"`` style labels."""
        if isinstance(value, Verdict):
            return value
        if isinstance(value, bool):
            raise ValueError(f"ambiguous verdict {value!r}")
        if isinstance(value, (int, float)) and value in (1, -1, 0):
            return cls(int(value))
        if isinstance(value, str):
            v = value.strip().lower()
            if v in ("a", "1", "first", "output_a", "response_a"):
                return cls.A
            if v in ("b", "2", "second", "output_b", "response_b"):
                return cls.B
            if v in ("tie", "0", "equal", "draw", "none"):
                return cls.TIE
        raise ValueError(f"not a verdict: {value!r} (expected a, b or tie)")

    @property
    def label(self) -> str:
        return {1: "a", -1: "b", 0: "tie"}[int(self)]


def _freeze_mapping(m: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(m or {}))


def text_hash(text: str) -> str:
    """Content hash of a text (first 16 hex digits of SHA-256); identical texts share factor values."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Example:
    """One input: a post to summarise, a question to answer, an instruction to follow.

    ``sources`` holds source documents or reference quotes (document QA). When it is empty the
    input itself is the source (summarisation of a post).
    """

    id: str
    task: str
    input: str
    title: str | None = None
    sources: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sources", tuple(self.sources))
        object.__setattr__(self, "metadata", _freeze_mapping(self.metadata))

    @property
    def source_text(self) -> str:
        """The text that source-output factors (novel words, coverage, hallucination) compare against."""
        return "\n\n".join(self.sources) if self.sources else self.input

    def for_output(self, output: Output) -> Example:
        """This example as ``output`` sees it: with the output's own sources (``Output.sources``, e.g. the
        quotes a WebGPT answer cites) in place of the example's, or the example itself when the output
        has none of its own. The one place where "the source of an output" is decided: every
        source-based factor and the judges' per-answer references read it through here."""
        if output.sources is None or tuple(output.sources) == self.sources:
            return self
        return dataclasses.replace(self, sources=output.sources)


@dataclass(frozen=True)
class Output:
    """A text produced for an example by a system, a human, or a model.

    ``sources``: the output's OWN source passages, where each output of an example has its own (a
    WebGPT answer and the quotes it was written from). ``None`` (the default): the output has none of
    its own and is read against the example's sources; ``()``: its own references are empty (the
    question alone is then its source, as for an example without sources). See :meth:`Example.for_output`.
    """

    id: str
    example_id: str
    text: str
    producer: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    sources: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "metadata", _freeze_mapping(self.metadata))
        if self.sources is not None:
            if isinstance(self.sources, str):
                raise TypeError(f"output {self.id!r}: sources must be a sequence of passages, not a string")
            object.__setattr__(self, "sources", tuple(self.sources))

    @property
    def text_hash(self) -> str:
        return text_hash(self.text)


@dataclass(frozen=True)
class Pair:
    """Two outputs of the same example, in a fixed order (A, B)."""

    id: str
    example_id: str
    a: str
    b: str

    def __post_init__(self) -> None:
        if self.a == self.b:
            raise ValueError(f"pair {self.id!r} compares output {self.a!r} with itself")


@dataclass(frozen=True)
class Preference:
    """A judge's verdict on a pair, optionally with a strength (e.g. a rating gap or a probability)."""

    pair_id: str
    judge: str
    verdict: Verdict
    strength: float | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "verdict", Verdict.parse(self.verdict))
        object.__setattr__(self, "metadata", _freeze_mapping(self.metadata))


@dataclass(frozen=True)
class FactorValue:
    """The value of one factor for one output (``None`` = missing, e.g. the extractor failed)."""

    output_id: str
    factor: str
    value: float | None
    extractor: str
    version: str
    detail: str | None = None


T = TypeVar("T")


def _cell(v: Any) -> Any:
    if isinstance(v, Verdict):
        return v.label
    if isinstance(v, Mapping):
        return json.dumps(dict(v), ensure_ascii=False, sort_keys=True, default=str)
    if isinstance(v, tuple):
        return list(v)
    return v


def records_to_frame(records: Iterable[Any], cls: type | None = None) -> pd.DataFrame:
    """Turn a sequence of the dataclasses above into a DataFrame (one column per field)."""
    records = list(records)
    if cls is None:
        if not records:
            raise ValueError("records_to_frame needs cls= for an empty sequence")
        cls = type(records[0])
    names = [f.name for f in dataclasses.fields(cls)]
    rows = [{n: _cell(getattr(r, n)) for n in names} for r in records]
    return pd.DataFrame(rows, columns=names)


def frame_to_records(df: pd.DataFrame, cls: type[T]) -> list[T]:
    """Inverse of :func:`records_to_frame`."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    out: list[T] = []
    for row in df.to_dict(orient="records"):
        kw: dict[str, Any] = {}
        for k, v in row.items():
            if k not in names:
                continue
            if isinstance(v, float) and v != v:  # NaN -> None
                v = None
            if k == "metadata":
                v = json.loads(v) if isinstance(v, str) and v else (v or {})
            elif k == "sources" and v is None:
                v = cls.__dataclass_fields__["sources"].default  # type: ignore[attr-defined]
            elif k == "sources":
                v = tuple(v) if isinstance(v, (list, tuple, Sequence)) and not isinstance(v, str) else (
                    tuple(v.tolist()) if hasattr(v, "tolist") else ()
                )
            kw[k] = v
        out.append(cls(**kw))
    return out
