"""Loaders for human-judgement data in their original schemas.

``load_dataset(source, format=None, ...)`` reads a local file (JSON, JSONL, optionally gzipped; CSV,
TSV), a shipped set (``"summeval"``, ``"hh-rlhf"``, ``"llmbar"``, ``"mtbench"``) or a Hugging Face
dataset (``"hf:<name>[:<config>][@<split>]"``, with the ``hub`` extra), detects the format from the
first row when none is given, and returns a :class:`Dataset` whose ``report`` says how many rows were
read, pairs built, human ties dropped, and which rows were rejected and why.

Formats (``list_formats()``): ``tldr_axis``, ``tldr_comparisons``, ``shp``, ``webgpt``, ``summeval``,
``hh_rlhf``, ``llmbar``, ``mtbench``, ``generic``, and the conventional layouts of :mod:`.conventional`
(``pairwise``, ``dpo``, ``arena``, ``arena_55k``, ``alpaca_eval``, ``annotated_pairs``, ``ultrafeedback``). New formats
register with ``@register_format``. A ``pandas.DataFrame`` is read like a file (one row per record).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..dataset import Dataset, LoadReport
from . import generic, shared, shp, tldr, webgpt  # noqa: F401  (register the formats)
from . import conventional  # noqa: F401  (pairwise, dpo, arena, arena_55k, alpaca_eval, annotated_pairs, ultrafeedback)
from .builder import DatasetBuilder
from .generic import parse_mapping
from .hub import HubUnavailableError, hub_records, parse_hub_source
from .io import Record, get_field, read_records
from .labels import parse_label_map
from .registry import (FormatSpec, LoadContext, LoadOptions, detect_format, get_format, list_formats,
                       register_format, run_format)
from .shipped import ShippedSet, canonical_name, read_shipped_rows, shipped_datasets, shipped_path

__all__ = [
    "load_dataset", "load_records", "list_formats", "register_format", "get_format", "detect_format",
    "shipped_datasets", "shipped_path", "read_shipped_rows", "ShippedSet", "parse_mapping",
    "read_records", "get_field", "Record", "LoadOptions", "LoadContext", "FormatSpec",
    "HubUnavailableError", "parse_label_map", "parse_judges", "parse_columns",
]


def _resolve(source: str | Path) -> tuple[Iterable[Record], str, str | None, str]:
    """(records, display name, format implied by the source, default dataset name)."""
    s = str(source)
    if isinstance(source, str) and s.startswith("hf:"):
        spec = parse_hub_source(s)
        return hub_records(spec), str(spec), None, spec.name.rsplit("/", 1)[-1]
    p = Path(source)
    if isinstance(source, str) and not p.exists():
        key = canonical_name(s)
        if key is not None:
            sset = shipped_datasets()[key]
            if sset.format not in list_formats():
                raise ValueError(f"shipped set {key!r} is not a preference data set; "
                                 f"read its rows with read_shipped_rows({key!r})")
            return read_records(sset.path), f"shipped:{key}", sset.format, key
        if not p.suffix:
            raise FileNotFoundError(
                f"{s!r} is neither a file, a shipped set ({', '.join(shipped_datasets())}) nor hf:<name>")
    name = p.name
    for suffix in (".gz", ".jsonl", ".json", ".csv", ".tsv"):
        name = name.removesuffix(suffix)
    return read_records(p), str(p), None, name


def _peek(records: Iterable[Record]) -> tuple[Any, Iterator[Record]]:
    """The first parsable row (for sniffing) and an iterator over all records."""
    it = iter(records)
    head: list[Record] = []
    first = None
    for rec in it:
        head.append(rec)
        if rec.error is None and rec.data is not None:
            first = rec.data
            break
    return first, itertools.chain(head, it)


def _with(attr: str) -> list[str]:
    return [n for n in list_formats() if getattr(get_format(n).parser, attr, False)]


def parse_columns(spec: str | Sequence[str]) -> tuple[str, ...]:
    """``"model,domain"`` (or a list) -> column names."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    cols = tuple(c.strip() for c in items if c and c.strip())
    if not cols:
        raise ValueError("--group-by needs column names, e.g. --group-by model,domain")
    return cols


def parse_judges(spec: str | Mapping[str, str]) -> dict[str, str]:
    """``"gpt4=gpt4_winner,rm=rm_label"`` (or a dict) -> judge name -> its preference column.

    Each named judge's verdicts come from its column (labels declared as for the human column,
    ``--label-map``); the format's own preference column stays judge ``human``."""
    if isinstance(spec, str):
        out: dict[str, str] = {}
        for part in (x.strip() for x in spec.split(",")):
            if not part:
                continue
            name, sep, col = part.partition("=")
            if not sep or not name.strip() or not col.strip():
                raise ValueError(f"bad --judges item {part!r}: expected NAME=COLUMN, e.g. gpt4=gpt4_winner")
            if name.strip() in out:
                raise ValueError(f"--judges: judge {name.strip()!r} is named twice")
            out[name.strip()] = col.strip()
    else:
        out = {str(k): str(v) for k, v in spec.items()}
    if "human" in out:
        raise ValueError("--judges: 'human' is the format's own preference column; name the other judges "
                         "(e.g. gpt4=gpt4_winner)")
    if not out:
        raise ValueError("--judges is empty; expected NAME=COLUMN items, e.g. gpt4=gpt4_winner")
    return out


def _frame_records(df: Any) -> Iterator[Record]:
    """The rows of a DataFrame as records (line = row number + 1, as in a CSV file below its header;
    missing cells are absent)."""
    import math

    for i, row in enumerate(df.to_dict(orient="records"), start=2):
        data = {str(k): (v.item() if hasattr(v, "item") else v) for k, v in row.items()
                if v is not None and not (isinstance(v, float) and math.isnan(v))}
        yield Record("<DataFrame>", i, data)


def load_records(records: Iterable[Record], format: str | None = None, *, source: str = "<records>",
                 task: str | None = None, name: str | None = None, **options: Any) -> Dataset:
    """Build a dataset from already-read records (what :func:`load_dataset` does after reading)."""
    if options.get("mapping") is not None:
        options["mapping"] = parse_mapping(options["mapping"])
        format = format or "generic"
    if options.get("label_map") is not None:
        options["label_map"] = parse_label_map(options["label_map"])
    if format is None:
        first, records = _peek(records)
        if first is None:
            raise ValueError(f"{source}: no rows to read")
        spec = detect_format(first, source)
    else:
        spec = get_format(format)
        if spec.name == "generic" and not options.get("mapping"):
            raise ValueError("the generic format needs a column mapping, e.g. --map "
                             "id=id,input=prompt,output_a=response_a,output_b=response_b,preferred=winner "
                             "(mapping= in Python)")
    parser = spec.parser
    if options.get("label_map") is not None and not getattr(parser, "label_columns", False):
        raise ValueError(f"--label-map applies to formats whose preference columns hold declared labels "
                         f"({', '.join(_with('label_columns'))}); {spec.name} defines its own labels")
    if options.get("judges"):
        options["judges"] = parse_judges(options["judges"])
        if not getattr(parser, "judge_columns", False):
            raise ValueError(f"--judges applies to formats with label columns ({', '.join(_with('judge_columns'))}); "
                             f"{spec.name} has none")
    if options.get("group_by"):
        options["group_by"] = parse_columns(options["group_by"])
        if not getattr(parser, "group_columns", False):
            raise ValueError(f"--group-by applies to {', '.join(_with('group_columns'))}; not to {spec.name}")
    else:
        options.pop("group_by", None)
    opts = LoadOptions(**options)
    if task is not None:
        from ...taxonomy import check_task

        task = check_task(task)
    report = LoadReport(source=source, format=spec.name)
    ctx = LoadContext(source, spec.name, opts, report, DatasetBuilder(limit=opts.limit, keep_ties=opts.keep_ties))
    run_format(spec, records, ctx)
    return ctx.builder.finish(name or Path(source).name, task or spec.task, report)


def load_dataset(source: Any, format: str | None = None, *, task: str | None = None,
                 domain: str | None = None, aspect: str = "mean", mapping: Mapping[str, str] | str | None = None,
                 skip_invalid: bool = False, limit: int | None = None, seed: int = 0,
                 name: str | None = None, label_map: Mapping[Any, str] | str | None = None,
                 judges: Mapping[str, str] | str | None = None, group_by: Sequence[str] | str | None = None,
                 keep_ties: bool = False) -> Dataset:
    """Load human preferences from a file, a shipped set or ``hf:<name>``.

    ``format``: a registered format (``None``: detected from the first row; ``generic`` when a
    ``mapping`` is given). ``task``: override the format's task. ``domain``: SHP domain filter
    (``"askacademia"``). ``aspect``: SummEval rating (coherence, consistency, fluency, relevance or
    mean). ``mapping``: generic role -> column mapping (dict or ``"role=col,..."``). ``label_map``:
    generic, what each value of the ``preferred`` column means (``"0=a,1=b,2=tie"`` or a dict; without
    it only a/b/tie spellings are read, see :mod:`.labels`).
    ``skip_invalid``: malformed rows become rejections in ``report`` instead of an
    :class:`InvalidInputError`. ``limit``: keep the first N examples. ``seed``: orientation of
    rating-derived pairs (TL;DR axis, SummEval). ``name``: the dataset's name. ``judges``: more
    judges' preference columns, ``"gpt4=gpt4_winner"`` or a dict (formats with label columns).
    ``group_by``: metadata columns kept with each pair for per-subgroup scores. ``keep_ties``: keep
    human ties (they enter tau_14 as judge ties, counted in ``report.ties_kept``).
    ``source`` may be a ``pandas.DataFrame`` (one record per row; with ``mapping`` or a detected layout).
    """
    records: Iterable[Record]
    if hasattr(source, "to_dict") and hasattr(source, "columns"):
        records, where, implied, default_name = _frame_records(source), "<DataFrame>", None, "dataframe"
    else:
        records, where, implied, default_name = _resolve(source)
    return load_records(records, format or (None if mapping else implied), source=where, task=task,
                        name=name or default_name, domain=domain, aspect=aspect, mapping=mapping,
                        skip_invalid=skip_invalid, limit=limit, seed=seed, label_map=label_map, judges=judges,
                        group_by=group_by, keep_ties=keep_ties)
