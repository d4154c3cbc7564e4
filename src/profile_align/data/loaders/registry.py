"""The format registry: each input format registers a parser with ``@register_format``.

A format is a class with two methods:

- ``parse(rec, ctx)``: validate one :class:`~.io.Record` and return what ``build`` needs from it
  (or ``None`` after ``ctx.drop(reason)``); raise :class:`InvalidInputError` for malformed rows;
- ``build(items, ctx)``: turn the parsed rows into examples, outputs and pairs on ``ctx.builder``
  (aggregating ratings or votes where a format needs it).

``detect(row)`` looks at one parsed row (a dict) and says whether it is in this format; it drives
format auto-detection. Every detector is tried: exactly one must accept the first row (none: an
error listing the formats; several: an error naming the candidates, ``--format`` decides).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..dataset import InvalidInputError, LoadReport, Rejection
from ..model import Verdict
from .builder import DatasetBuilder
from .io import Record

__all__ = ["ASPECTS", "FormatSpec", "LoadContext", "LoadOptions", "register_format", "get_format",
           "list_formats", "detect_format", "run_format"]

ASPECTS = ("coherence", "consistency", "fluency", "relevance", "mean")


@dataclass(frozen=True)
class LoadOptions:
    """Options that some formats use (the others ignore them)."""

    domain: str | None = None            # SHP: keep rows whose domain is this (or starts with it + "_")
    aspect: str = "mean"                 # SummEval: which rating orders the summaries
    mapping: Mapping[str, str] | None = None  # generic: role -> column
    label_map: Mapping[str, Verdict] | None = None  # value in a preference column -> its verdict (parse_label_map)
    judges: Mapping[str, str] | None = None  # more judges: judge name -> its preference column
    group_by: tuple[str, ...] = ()        # metadata columns kept with each pair (per-subgroup scores)
    keep_ties: bool = False               # keep human ties (they enter tau_14 as judge ties)
    skip_invalid: bool = False
    limit: int | None = None             # keep the first N examples (file order)
    seed: int = 0                        # orientation of rating-derived pairs

    def __post_init__(self) -> None:
        if self.aspect not in ASPECTS:
            raise ValueError(f"unknown aspect {self.aspect!r}; expected one of {', '.join(ASPECTS)}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be a positive number of examples, got {self.limit}")


@dataclass
class LoadContext:
    """What a format's ``parse``/``build`` get: options, the report and the dataset builder."""

    source: str
    format: str
    options: LoadOptions
    report: LoadReport
    builder: DatasetBuilder = field(default_factory=DatasetBuilder)
    _seen: dict[tuple[str, Any], int | None] = field(default_factory=dict)
    _inputs: dict[str, tuple[str, str, int | None]] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)  # a format's own scratch space for one load

    def drop(self, reason: str, n: int = 1) -> None:
        """Count a row (or pair) left out for a reason other than a tie or an error."""
        self.report.dropped[reason] += n

    def claim(self, rec: Record, fieldname: str, key: Any, what: str = "id") -> None:
        """Register a unique key; a second occurrence is an error naming both lines."""
        k = (fieldname, key)
        if k in self._seen:
            first = self._seen[k]
            raise rec.fail(fieldname, f"duplicate {what} {key!r} (first seen on line {first})")
        self._seen[k] = rec.line


    def same_input(self, rec: Record, fieldname: str, example_id: str, text: str, what: str = "input") -> None:
        """Rows of one example must carry the same input text; a different one is an error naming both
        lines (``fieldname``: the field that holds the text)."""
        first = self._inputs.setdefault(example_id, (text, fieldname, rec.line))
        if first[0] != text:
            raise rec.fail(fieldname, f"example {example_id!r} has a different {what} text than on line "
                                      f"{first[2]} (rows of one example must share its {what})")


class FormatParser(Protocol):
    """``parse``/``build`` as in the module docstring. Optional class attributes: ``label_columns =
    True`` (the format reads declared labels, so ``label_map`` applies), ``judge_columns = True``
    (``judges`` and ``group_by`` columns are read from its rows); optional ``expand(rec, ctx)`` yields the
    rows held by one record (a JSON object with a list of comparisons)."""

    def parse(self, rec: Record, ctx: LoadContext) -> Any: ...

    def build(self, items: list[Any], ctx: LoadContext) -> None: ...


@dataclass(frozen=True)
class FormatSpec:
    name: str
    task: str
    description: str
    detect: Callable[[Mapping[str, Any]], bool] | None
    parser: FormatParser


_REGISTRY: dict[str, FormatSpec] = {}


def _norm(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def register_format(name: str, *, detect: Callable[[Mapping[str, Any]], bool] | None, task: str,
                    description: str) -> Callable[[type], type]:
    """Class decorator: register a format parser under ``name`` (``detect=None``: never auto-detected)."""

    def deco(cls: type) -> type:
        key = _norm(name)
        if key in _REGISTRY:
            raise ValueError(f"format {name!r} is registered twice")
        _REGISTRY[key] = FormatSpec(key, task, description, detect, cls())
        return cls

    return deco


def get_format(name: str) -> FormatSpec:
    try:
        return _REGISTRY[_norm(name)]
    except KeyError:
        raise ValueError(f"unknown format {name!r}; known formats: {', '.join(_REGISTRY)}") from None


def list_formats() -> dict[str, str]:
    """Registered formats: name -> one-line description (with the default task)."""
    return {k: f"{s.description} [task: {s.task}]" for k, s in _REGISTRY.items()}


def detect_format(row: Any, where: str) -> FormatSpec:
    """The one registered format whose detector accepts ``row``; a clear error if none does, and an
    error listing the candidates if several do (then ``--format`` decides)."""
    found: list[FormatSpec] = []
    if isinstance(row, Mapping):
        for spec in _REGISTRY.values():
            try:
                if spec.detect is not None and spec.detect(row):
                    found.append(spec)
            except Exception:  # a detector must never break sniffing
                continue
    if len(found) == 1:
        return found[0]
    keys = sorted(row)[:12] if isinstance(row, Mapping) else type(row).__name__
    if found:
        raise InvalidInputError(
            where, None, None,
            f"the first row fits several formats: {', '.join(s.name for s in found)} (keys: {keys}); "
            f"pass --format with one of them")
    raise InvalidInputError(
        where, None, None,
        f"cannot detect the format from the first row (keys: {keys}); pass --format with one of "
        f"{', '.join(_REGISTRY)} (generic needs a column mapping, --map)")


def run_format(spec: FormatSpec, records: Iterable[Record], ctx: LoadContext) -> None:
    """Parse every record (rejecting or raising on malformed ones), then build."""
    items = []
    expand = getattr(spec.parser, "expand", None)  # a format whose file is one object holding the rows
    if expand is not None:
        records = (sub for rec in records for sub in expand(rec, ctx))
    for rec in records:
        ctx.report.rows_read += 1
        try:
            if rec.error is not None:
                raise rec.fail(rec.error_field, rec.error)
            if not isinstance(rec.data, Mapping):
                raise rec.fail(None, f"expected a JSON object, got {type(rec.data).__name__}")
            item = spec.parser.parse(rec, ctx)
        except InvalidInputError as e:
            if not ctx.options.skip_invalid:
                raise
            ctx.report.rejected.append(Rejection(e.path, e.line, e.field, e.reason))
            continue
        if item is not None:
            ctx.report.rows_valid += 1
            items.append(item)
    spec.parser.build(items, ctx)
