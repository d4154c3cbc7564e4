"""The factor table: one row per output, one column per factor, computed once per distinct text.

A factor that depends only on the output (level 3 Output-Only / Intra-Output) is computed once per
distinct output text; one that relates the output to its input or source is computed once per distinct
(text, source) — two systems that wrote the same summary of the same article share the value.
Missing values are ``NaN`` and are excluded (and counted) when pairs are compared.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data.dataset import Dataset
from ..data.model import FactorValue, text_hash
from ..rundir import file_mode
from ..taxonomy import REGISTRY, Factor, Level3, factors_for_task
from .registry import get_extractor

__all__ = ["FactorTable", "compute_factors", "resolve_factors"]

_META_COLUMNS = ("output_id", "example_id", "text_hash")
_META_KEY = b"profile_align"


@dataclass
class FactorTable:
    """Wide table of factor values (index ``output_id``) plus the provenance of each column."""

    values: pd.DataFrame  # index output_id; columns: example_id, text_hash, <factor names...>
    provenance: dict[str, dict[str, str]] = field(default_factory=dict)  # factor -> {extractor, version}
    warnings: Counter = field(default_factory=Counter)  # "factor: reason" -> count

    @property
    def factor_names(self) -> list[str]:
        return [c for c in self.values.columns if c not in _META_COLUMNS]

    def __getitem__(self, factor: str) -> pd.Series:
        return self.values[factor]

    def __len__(self) -> int:
        return len(self.values)

    def lookup(self, output_ids: Sequence[str], factors: Sequence[str]) -> np.ndarray:
        """Values of ``factors`` for ``output_ids`` as a float array (NaN where unknown)."""
        missing_cols = [f for f in factors if f not in self.values.columns]
        if missing_cols:
            raise KeyError(f"factor table has no column(s) {missing_cols}; it has {self.factor_names}")
        sub = self.values[list(factors)].astype(float)
        return sub.reindex(list(output_ids)).to_numpy(dtype=float)

    def to_records(self) -> list[FactorValue]:
        recs = []
        for oid, row in self.values.iterrows():
            for f in self.factor_names:
                v = row[f]
                p = self.provenance.get(f, {})
                recs.append(FactorValue(str(oid), f, None if pd.isna(v) else float(v),
                                        p.get("extractor", "?"), p.get("version", "?")))
        return recs

    def summary(self) -> pd.DataFrame:
        """Per factor: computed, missing, mean, min, max."""
        rows = []
        for f in self.factor_names:
            col = self.values[f].astype(float)
            rows.append({"factor": f, "computed": int(col.notna().sum()), "missing": int(col.isna().sum()),
                         "mean": col.mean(), "min": col.min(), "max": col.max(),
                         "extractor": self.provenance.get(f, {}).get("extractor", "?")})
        return pd.DataFrame(rows)

    # -- I/O ---------------------------------------------------------------------------------
    def to_frame(self) -> pd.DataFrame:
        return self.values.reset_index()

    def save(self, path: str | Path) -> Path:
        """Write as Parquet (provenance kept in the file's metadata), CSV or JSON by suffix."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix not in (".parquet", ".csv", ".json"):
            raise ValueError(f"unsupported factor table format {suffix!r} (use .parquet, .csv or .json)")
        # atomic: write a temporary file next to the target, then rename (a killed run never leaves half a file)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{suffix}")
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            self._write(tmp, suffix)
            os.chmod(tmp, file_mode())  # mkstemp makes it 0600; follow the umask like any other file
            if suffix == ".csv":
                side = tmp.with_suffix(".provenance.json")
                os.replace(side, path.with_suffix(".provenance.json"))
            os.replace(tmp, path)
        finally:
            for p in (tmp, tmp.with_suffix(".provenance.json")):
                if p.exists():
                    p.unlink()
        return path

    def _write(self, path: Path, suffix: str) -> None:
        df = self.to_frame()
        meta = {"provenance": self.provenance, "warnings": dict(self.warnings)}
        if suffix == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(df, preserve_index=False)
            md = dict(table.schema.metadata or {})
            md[_META_KEY] = json.dumps(meta).encode()
            pq.write_table(table.replace_schema_metadata(md), path)
        elif suffix == ".csv":
            df.to_csv(path, index=False)
            path.with_suffix(".provenance.json").write_text(json.dumps(meta, indent=2))
        elif suffix == ".json":
            path.write_text(json.dumps({"meta": meta, "rows": json.loads(df.to_json(orient="records"))}, indent=1))

    @classmethod
    def load(cls, path: str | Path) -> FactorTable:
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"factor table not found: {path}")
        suffix = path.suffix.lower()
        meta: dict[str, Any] = {}
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(path)
            raw = (table.schema.metadata or {}).get(_META_KEY)
            meta = json.loads(raw) if raw else {}
            df = table.to_pandas()
        elif suffix == ".csv":
            df = pd.read_csv(path, dtype={"output_id": str, "example_id": str, "text_hash": str})
            side = path.with_suffix(".provenance.json")
            meta = json.loads(side.read_text()) if side.exists() else {}
        elif suffix == ".json":
            obj = json.loads(path.read_text())
            meta, df = obj.get("meta", {}), pd.DataFrame(obj["rows"])
        else:
            raise ValueError(f"unsupported factor table format {suffix!r} (use .parquet, .csv or .json)")
        if "output_id" not in df.columns:
            raise ValueError(f"{path}: a factor table needs an 'output_id' column; columns are {list(df.columns)}")
        return cls(df.set_index("output_id"), meta.get("provenance", {}), Counter(meta.get("warnings", {})))


def resolve_factors(task: str | None, factors: Iterable[str | Factor] | None = None,
                    *, only_rule: bool = False) -> list[Factor]:
    """Factor objects from explicit names, else the task's factor set."""
    if factors:
        facs = [f if isinstance(f, Factor) else REGISTRY.get(f) for f in factors]
    else:
        facs = factors_for_task(task or "generic")
    if only_rule:
        facs = [f for f in facs if f.computable_without_model]
    return facs


def _needs_source(f: Factor) -> bool:
    return f.level3 in (Level3.SOURCE_OUTPUT, Level3.INPUT_OUTPUT)


def compute_factors(dataset: Dataset, factors: Iterable[str | Factor] | None = None, *,
                    skip_model_factors: bool = True) -> FactorTable:
    """Compute rule-based (and user-registered) factors for every output of ``dataset``.

    Factors that need a model backend are skipped when ``skip_model_factors`` (the default); the
    skipped names are recorded in ``warnings`` so nobody mistakes them for computed.
    """
    facs = resolve_factors(dataset.task, factors)
    fns: dict[str, Callable[[str, Any], Any]] = {
        f.name: fn for f in facs if (fn := getattr(get_extractor(f.name), "compute", None)) is not None}
    rule = [f for f in facs if f.computable_without_model and f.name in fns]
    skipped = [f for f in facs if f not in rule]
    if skipped and not skip_model_factors:
        raise NotImplementedError(
            "factors needing a model backend are not available here: " + ", ".join(f.name for f in skipped)
        )
    warnings: Counter = Counter()
    for f in skipped:
        warnings[f"{f.name}: needs a model backend ({f.extractor}); not computed"] += 1

    examples = dataset.example_map()
    memo: dict[tuple, float | None] = {}
    rows: list[dict[str, Any]] = []
    for o in dataset.outputs:
        ex = examples[o.example_id].for_output(o)  # with the output's own sources, where it has them
        h = text_hash(o.text)
        row: dict[str, Any] = {"output_id": o.id, "example_id": o.example_id, "text_hash": h}
        empty = not o.text.strip()
        for f in rule:
            key = (f.name, h, text_hash(ex.source_text) if _needs_source(f) else None)
            if key not in memo:
                if empty:
                    warnings[f"{f.name}: empty output text (value 0)"] += 1
                    memo[key] = 0.0
                else:
                    try:
                        v = fns[f.name](o.text, ex)
                        memo[key] = None if v is None else float(v)
                    except Exception as e:  # a user factor may fail: count it, keep going
                        warnings[f"{f.name}: {type(e).__name__}: {e}"] += 1
                        memo[key] = None
            elif empty:
                warnings[f"{f.name}: empty output text (value 0)"] += 1
            row[f.name] = memo[key]
        rows.append(row)
    df = pd.DataFrame(rows, columns=[*_META_COLUMNS, *(f.name for f in rule)]).set_index("output_id")
    for f in rule:
        df[f.name] = df[f.name].astype(float)
    prov = {f.name: {"extractor": f.extractor, "version": f.version} for f in rule}
    return FactorTable(df, prov, warnings)
