"""The run directory: everything a PROFILE run produced, in files every later step reads.

Layout (see docs/run-directory.md for every column)::

    RUN_DIR/
      manifest.json            config, config hash, versions, dataset, judges, seeds, usage, failures, flags
      config.yaml              the resolved config of the run
      dataset/                 examples, outputs (dataset + generated), pairs, preferences (all judges) .parquet
      factors.parquet          FactorTable: one row per output, one column per factor
      factor_details.parquet   long: output_id, factor, value, extractor, version, detail, n_items, n_failed
      answers.parquet          one row per LLM answer used by any stage (input of the diagnostics)
      scores/<judge>.json      FactorScoreResult of each judge
      tables/*.csv|.parquet    factor_scores, alignment, agreement, differences, evaluator_bias, ...
      usage.json               tokens, requests, failures and cost per backend/model/prompt type
      skipped_rows.csv         with skip_invalid: every skipped input row (file, line, field, reason)
      diagnostics.json         flags raised on degenerate judges/extractors
      experiments/<name>/      guide, improve, generalize, paradox results
      report.html              the HTML report

Writes are atomic (temp file + rename), so a killed run never leaves a half-written table; the files
get the usual permissions under the user's umask (0644 under umask 022).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from .data.dataset import Dataset

__all__ = ["RunDir", "RunManifest", "JudgeEntry", "config_hash", "package_versions", "judge_file_name",
           "ANSWER_COLUMNS", "CACHE_FILE", "TABLES", "file_mode", "atomic_write_bytes", "SKIPPED_ROWS"]

SKIPPED_ROWS = "skipped_rows.csv"  # every input row skipped by skip_invalid: file, line, field, reason

#: The LLM answer cache of a run when the config names none (``backend.cache``).
CACHE_FILE = "cache.sqlite"

#: Every table a run directory may hold, by role (``RunDir.read_table(TABLES["alignment"])``). Writers and
#: readers use these names, so a reader never looks for a table nobody writes.
TABLES = {
    "factor_scores": "tables/factor_scores",
    "alignment": "tables/alignment",
    "differences": "tables/differences",
    "evaluator_bias": "tables/evaluator_bias",
    "rewards": "tables/rewards",
    "factor_validation": "tables/factor_validation",
    "group_scores": "tables/group_scores",  # score --group-by --out: per subgroup, judge and factor
    **{name: f"tables/{name}" for name in ("joint_effects", "joint_differences", "joint_alignment",
                                           "joint_predictive", "joint_correlation", "joint_lc_agreement")},
    "factor_details": "factor_details",
    "answers": "answers",
}

# Columns of answers.parquet (one row per LLM answer that a stage used).
ANSWER_COLUMNS = (
    "stage",          # factors | generation | evaluation | improve | guide | paradox | probe
    "prompt_type",    # e.g. atomic_facts, fact_hallucination, intent_alignment, pairwise_eval, scored_generation
    "model",          # model string of the backend
    "item_id",        # what was asked about: output id, pair id, example id, fact id ...
    "input_key",      # hash of the distinct input (so 'distinct answers / distinct inputs' can be computed)
    "variant",        # order or position: "AB"/"BA" for pairwise, the fact index for per-fact verdicts, target score
    "answer",         # normalised answer label ("yes", "no", "1", "2", "tie", "aligned", a score...) or None
    "valid",          # bool: parsed and schema-valid
    "finish_reason",  # stop | length | failed | logprobs (a 1-token request read from its probabilities)
    "cached",         # bool
    "echo",           # bool: the answer text equals an example given in the prompt
)


def file_mode() -> int:
    """The mode a new file gets under the process's umask (0644 under umask 022).

    Temp files from ``tempfile.mkstemp`` are 0600; an atomically written file is chmod-ed to this
    before it is renamed into place, so it has the same permissions as any other written file.
    """
    umask = None
    try:  # Linux: read it without changing it
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    umask = int(line.split()[1], 8)
                    break
    except (OSError, ValueError):
        pass
    if umask is None:
        umask = os.umask(0o022)
        os.umask(umask)
    return 0o666 & ~umask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file + rename), with :func:`file_mode` permissions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


_atomic_write_bytes = atomic_write_bytes  # the former private name


def config_hash(config: Any) -> str:
    """SHA-256 (16 hex) of the canonical JSON of a config (dict or pydantic model)."""
    if hasattr(config, "model_dump"):
        config = config.model_dump(mode="json")
    blob = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def package_versions(extra: Iterable[str] = ()) -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for name in ("profile-align", "numpy", "scipy", "pandas", "pyarrow", "pydantic", "httpx",
                 "llama-cpp-python", "transformers", "torch", *extra):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def judge_file_name(judge: str) -> str:
    """A file-system-safe name for a judge (``local:evaluation`` -> ``local__evaluation``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "__", judge).strip("_") or "judge"


class JudgeEntry(BaseModel):
    """One judge of a run as the manifest lists it (``manifest.json["judges"]``); judge-specific statistics
    (position bias, generation variant, ...) are kept as extra fields."""

    model_config = ConfigDict(extra="allow")

    name: str
    kind: str  # a JudgeKind value: human | generation | evaluation | reward_model ("rm" is read as reward_model)
    model: str | None = None
    policy: str | None = None
    setting: str | None = None  # evaluation | generation (a reward model can judge in both)
    label: str | None = None  # the config's name for the judge (``<label>:evaluation``)
    n_pairs: int | None = None
    n_failed: int | None = None

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, v: Any) -> str:
        from .judges.base import JudgeKind

        try:
            return JudgeKind.parse(v).value
        except ValueError:
            return str(v)  # improvement, or a kind of a newer version: kept as written

    def stat(self, key: str, default: Any = None) -> Any:
        return (self.model_extra or {}).get(key, default)


class RunManifest(BaseModel):
    """The typed view of ``manifest.json`` that every reader uses (report, experiments, diagnostics).

    Older manifests without ``cache_path`` / ``factors.model`` are read with the same rules the run used
    to apply (``backend.cache`` of the config, else ``cache.sqlite``; the first judge's model)."""

    model_config = ConfigDict(extra="allow")

    status: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    config_hash: str | None = None
    dataset: dict[str, Any] = Field(default_factory=dict)
    factors: dict[str, Any] = Field(default_factory=dict)
    judges: list[JudgeEntry] = Field(default_factory=list)
    cache_path: str | None = None
    experiments: list[str] = Field(default_factory=list)

    def run_config(self) -> Any:
        """The run's :class:`~profile_align.pipeline.config.RunConfig` (None when the manifest's config is
        not a valid one, e.g. hand-written test fixtures)."""
        from pydantic import ValidationError

        from .pipeline.config import RunConfig  # lazy: the pipeline sits above the run directory

        try:
            return RunConfig.model_validate(self.config)
        except ValidationError:
            return None

    @property
    def factor_model(self) -> str | None:
        """The model string for the run's LLM-extracted factors (as recorded; older manifests: the
        config's rule, :attr:`RunConfig.factor_model`)."""
        if "model" in self.factors:
            return self.factors["model"]
        cfg = self.run_config()
        return cfg.factor_model if cfg is not None else None

    @property
    def sampling(self) -> dict[str, Any]:
        """temperature, top_p, seed the run's judges used by default (the config's ``backend``)."""
        from .pipeline.config import BackendConfig

        b = BackendConfig.model_validate({k: v for k, v in (self.config.get("backend") or {}).items()
                                          if k in BackendConfig.model_fields})
        return {"temperature": b.temperature, "top_p": b.top_p, "seed": b.seed}

    def judges_of(self, kind: str) -> list[JudgeEntry]:
        return [j for j in self.judges if j.kind == kind]

    def model_of(self, judge: str) -> str | None:
        """The model string of a judge (by full name or config label)."""
        for j in self.judges:
            if judge in (j.name, j.label):
                return j.model
        return None


class RunDir:
    """Read and write the files of a run directory."""

    def __init__(self, path: str | Path, *, create: bool = False) -> None:
        self.path = Path(path)
        if create:
            self.path.mkdir(parents=True, exist_ok=True)
        elif not self.path.is_dir():
            raise FileNotFoundError(f"run directory not found: {self.path}")

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def exists(self, name: str) -> bool:
        return (self.path / name).exists()

    # -- manifest -----------------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        return self.path / "manifest.json"

    def read_manifest(self) -> dict[str, Any]:
        if not self.manifest_path.exists():
            return {}
        return json.loads(self.manifest_path.read_text())

    def manifest(self) -> RunManifest:
        """The typed manifest (an empty one when the run has none yet)."""
        raw = self.read_manifest()
        raw["judges"] = [j for j in raw.get("judges") or [] if isinstance(j, dict) and "name" in j]
        m = RunManifest.model_validate(raw)
        exp = self.path / "experiments"
        found = sorted(p.name for p in exp.iterdir() if p.is_dir()) if exp.is_dir() else []
        m.experiments = list(dict.fromkeys([*m.experiments, *found]))
        return m

    @property
    def cache_path(self) -> Path:
        """The run's LLM answer cache — the one rule every reader and writer uses (the file may not exist
        yet): the manifest's ``cache_path`` (absolute, or relative to the run directory); for a manifest
        without one, the config's ``backend.cache`` (as given, else relative to the run directory); else
        ``<run>/cache.sqlite``."""
        raw = self.read_manifest()
        if raw.get("cache_path"):
            p = Path(raw["cache_path"])
            return p if p.is_absolute() else self.path / p
        named = ((raw.get("config") or {}).get("backend") or {}).get("cache")
        if named:
            p = Path(named)
            return p if (p.is_absolute() or p.exists() or not (self.path / p).exists()) else self.path / p
        return self.path / CACHE_FILE

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        self.write_json("manifest.json", manifest)

    def update_manifest(self, **fields: Any) -> dict[str, Any]:
        m = self.read_manifest()
        m.update(fields)
        m["updated"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        self.write_manifest(m)
        return m

    # -- generic files ------------------------------------------------------------------------
    def write_json(self, name: str, obj: Any) -> Path:
        p = self.path / name
        _atomic_write_bytes(p, json.dumps(obj, indent=2, ensure_ascii=False, default=_json_default).encode())
        return p

    def read_json(self, name: str) -> Any:
        return json.loads((self.path / name).read_text())

    def write_table(self, name: str, df: pd.DataFrame, *, csv: bool = True) -> Path:
        """``name`` without suffix (e.g. ``tables/alignment``): writes .parquet (and .csv)."""
        p = self.path / f"{name}.parquet"
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
        os.close(fd)
        try:
            df.to_parquet(tmp, index=False)
            os.chmod(tmp, file_mode())
            os.replace(tmp, p)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        if csv:
            _atomic_write_bytes(self.path / f"{name}.csv", df.to_csv(index=False).encode())
        return p

    def read_table(self, name: str) -> pd.DataFrame:
        p = self.path / f"{name}.parquet"
        if p.exists():
            return pd.read_parquet(p)
        c = self.path / f"{name}.csv"
        if c.exists():
            return pd.read_csv(c)
        raise FileNotFoundError(f"{self.path}: no table {name!r}")

    def has_table(self, name: str) -> bool:
        return (self.path / f"{name}.parquet").exists() or (self.path / f"{name}.csv").exists()

    # -- dataset ------------------------------------------------------------------------------
    def write_dataset(self, ds: Dataset) -> None:
        for key, df in ds.to_frames().items():
            self.write_table(f"dataset/{key}", df, csv=False)
        self.write_json("dataset/info.json", {"name": ds.name, "task": ds.task,
                                              "report": ds.report.to_dict() if ds.report else None})

    def write_skipped_rows(self, report: Any) -> Path:
        """The full list of rows a load skipped (``skip_invalid``), as ``skipped_rows.csv``."""
        p = self.path / SKIPPED_ROWS
        _atomic_write_bytes(p, report.rejections_frame().to_csv(index=False).encode())
        return p

    def read_dataset(self) -> Dataset:
        info = self.read_json("dataset/info.json")
        frames = {k: self.read_table(f"dataset/{k}") for k in ("examples", "outputs", "pairs", "preferences")}
        return Dataset.from_frames(frames, name=info["name"], task=info["task"])

    # -- factors and scores -------------------------------------------------------------------
    def write_factors(self, table: Any) -> Path:
        return table.save(self.path / "factors.parquet")

    def read_factors(self) -> Any:
        from .factors.table import FactorTable

        return FactorTable.load(self.path / "factors.parquet")

    def write_scores(self, result: Any) -> Path:
        p = self.path / "scores" / f"{judge_file_name(result.judge)}.json"
        p.parent.mkdir(parents=True, exist_ok=True)
        result.save_json(p)
        return p

    def read_scores(self) -> dict[str, Any]:
        """judge name -> FactorScoreResult, for every ``scores/*.json``."""
        from .stats import FactorScoreResult

        out = {}
        for p in sorted((self.path / "scores").glob("*.json")):
            r = FactorScoreResult.load_json(p)
            out[r.judge] = r
        return out

    def write_answers(self, df: pd.DataFrame) -> Path:
        missing = [c for c in ANSWER_COLUMNS if c not in df.columns]
        if missing:
            raise ValueError(f"answers table lacks columns {missing}")
        return self.write_table("answers", df[list(ANSWER_COLUMNS)], csv=False)

    def replace_answers(self, stage: str, rows: pd.DataFrame) -> Path:
        """Replace one stage's rows of answers.parquet by ``rows`` (the other stages' rows are kept)."""
        old = self.read_answers()
        if len(old):
            old = old[old["stage"] != stage]
        merged = rows if not len(old) else (old if not len(rows) else pd.concat([old, rows], ignore_index=True))
        return self.write_answers(merged)

    def read_answers(self) -> pd.DataFrame:
        return self.read_table("answers") if self.has_table("answers") else pd.DataFrame(columns=ANSWER_COLUMNS)


def _json_default(o: Any) -> Any:
    if hasattr(o, "model_dump"):
        return o.model_dump(mode="json")
    if hasattr(o, "to_dict"):
        return o.to_dict()
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    if isinstance(o, Path):
        return str(o)
    try:
        import numpy as np

        if isinstance(o, np.integer):
            return int(o)
        if isinstance(o, np.floating):
            return None if o != o else float(o)
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:  # pragma: no cover
        pass
    return str(o)
