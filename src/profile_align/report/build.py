"""Collect everything a report shows from a run directory, tolerating missing optional parts.

:func:`load_run` never raises for a missing optional file: the attribute is ``None`` (or empty) and the
section that needs it is left out with a note. A file that exists but cannot be read is recorded in
``RunData.problems`` (shown in the report) instead of stopping the report.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from ..judges.base import JudgeKind
from ..judges.base import kind_of_name as judge_kind  # for judges the manifest lacks
from ..rundir import TABLES, RunDir, RunManifest

__all__ = ["RunData", "JudgeInfo", "Experiment", "load_run", "judge_kind", "NotARunDirectory"]

T = TypeVar("T")



class NotARunDirectory(ValueError):
    """The directory holds none of the files of a run directory."""


@dataclass(frozen=True)
class JudgeInfo:
    name: str
    kind: str  # a JudgeKind value (human | generation | evaluation | reward_model), improvement or other
    model: str | None = None
    policy: str | None = None
    n_pairs: int | None = None
    n_failed: int | None = None
    protocol: str | None = None
    """How a model judge was asked (generation: variant, k, length limit), from its manifest entry."""
    setting: str | None = None  # evaluation | generation


def judge_protocol(entry: dict[str, Any]) -> str | None:
    """The generation protocol in words: variant, k and the length limit (a deviation from the paper)."""
    if entry.get("variant") is None:
        return None
    limit = entry.get("max_words")
    return (f"{entry['variant']}, k = {entry.get('k', '?')}, "
            + (f"length limit {limit} words (deviation from the paper)" if limit else "no rubric, no length limit"))


@dataclass
class Experiment:
    """``experiments/<name>/``: ``summary.json`` (any JSON) plus every table in the folder."""

    name: str
    summary: Any = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


@dataclass
class RunData:
    path: Path
    manifest: dict[str, Any]
    typed: RunManifest | None = None  # the typed view of the manifest (rundir.RunManifest)
    info: dict[str, Any] | None = None
    dataset: Any = None  # profile_align.Dataset
    factors: Any = None  # profile_align.FactorTable
    factor_details: pd.DataFrame | None = None
    scores: pd.DataFrame | None = None  # long: judge, kind, factor, score, ci_low, ci_high, rank, ...
    alignment: pd.DataFrame | None = None
    differences: pd.DataFrame | None = None
    evaluator_bias: pd.DataFrame | None = None
    rewards: pd.DataFrame | None = None
    validation: pd.DataFrame | None = None
    validation_name: str | None = None
    usage: dict[str, Any] | None = None
    diagnostics: dict[str, Any] | None = None
    experiments: dict[str, Experiment] = field(default_factory=dict)
    judges: list[JudgeInfo] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def judge_names(self) -> list[str]:
        return [j.name for j in self.judges]

    def judge(self, name: str) -> JudgeInfo:
        for j in self.judges:
            if j.name == name:
                return j
        return JudgeInfo(name, judge_kind(name))

    @property
    def factor_order(self) -> list[str]:
        """Factors in the order of the human's ranking (else the first judge's; else the manifest's)."""
        if self.scores is None or self.scores.empty:
            return list(self.manifest.get("factors", {}).get("names", []))
        df = self.scores
        ref = "human" if "human" in set(df["judge"]) else sorted(set(df["judge"]))[0]
        sub = df[df["judge"] == ref].copy()
        sub["_s"] = pd.to_numeric(sub["score"], errors="coerce")
        sub = sub.sort_values(["_s", "factor"], ascending=[False, True], na_position="last", kind="stable")
        order = list(sub["factor"])
        order += sorted(set(df["factor"]) - set(order))
        return order


def _try(run: RunData, what: str, fn: Callable[[], T]) -> T | None:
    try:
        return fn()
    except FileNotFoundError:
        return None
    except Exception as e:  # noqa: BLE001 - a broken optional file must not stop the report
        run.problems.append(f"could not read {what}: {type(e).__name__}: {e}")
        return None


def _table(rd: RunDir, run: RunData, name: str) -> pd.DataFrame | None:
    if not rd.has_table(name):
        return None
    return _try(run, name, lambda: rd.read_table(name))


def _json(rd: RunDir, run: RunData, name: str) -> Any:
    if not rd.exists(name):
        return None
    return _try(run, name, lambda: rd.read_json(name))


def _scores_from_json(rd: RunDir, judges: dict[str, JudgeInfo]) -> pd.DataFrame | None:
    results = rd.read_scores()
    if not results:
        return None
    frames = []
    for name in sorted(results):
        r = results[name]
        df = r.to_frame()
        df.insert(0, "kind", judges[name].kind if name in judges else judge_kind(name))
        df.insert(0, "judge", name)
        from ..stats.tau import policy_name

        df["policy"] = policy_name(r.policy) or "custom"
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def _experiments(rd: RunDir, run: RunData) -> dict[str, Experiment]:
    root = rd.path / "experiments"
    if not root.is_dir():
        return {}
    out = {}
    for d in sorted(p for p in root.iterdir() if p.is_dir()):
        ex = Experiment(d.name)
        if (d / "summary.json").exists():
            try:
                ex.summary = json.loads((d / "summary.json").read_text(encoding="utf-8"))
            except Exception as e:  # noqa: BLE001
                ex.problems.append(f"could not read summary.json: {type(e).__name__}: {e}")
        stems = sorted({p.stem for p in d.iterdir() if p.suffix in (".parquet", ".csv") and not p.name.startswith(".")})
        for stem in stems:
            try:
                ex.tables[stem] = rd.read_table(f"experiments/{d.name}/{stem}")
            except Exception as e:  # noqa: BLE001
                ex.problems.append(f"could not read table {stem}: {type(e).__name__}: {e}")
        out[d.name] = ex
    return out


def _kind(value: Any, name: str) -> str:
    try:
        return JudgeKind.parse(value).value  # the former spelling "rm" reads as reward_model
    except ValueError:
        return str(value) if value else judge_kind(name)


def _judges(manifest: RunManifest | None, scores: pd.DataFrame | None, dataset: Any) -> list[JudgeInfo]:
    out: dict[str, JudgeInfo] = {}
    for j in manifest.judges if manifest is not None else []:
        out[j.name] = JudgeInfo(j.name, _kind(j.kind, j.name), j.model, j.policy, j.n_pairs, j.n_failed,
                                protocol=judge_protocol(j.model_dump()), setting=j.setting)
    if scores is not None and "judge" in scores.columns:
        for name in sorted(set(scores["judge"]) - set(out)):
            kinds = list(scores.loc[scores["judge"] == name, "kind"]) if "kind" in scores.columns else []
            out[name] = JudgeInfo(name, _kind(kinds[0], name) if kinds else judge_kind(name))
    if dataset is not None:
        for name in dataset.judges:
            if name not in out:
                out[name] = JudgeInfo(name, judge_kind(name))
    # the human first, then by kind and name
    order = {"human": 0, "evaluation": 1, "generation": 2, "reward_model": 3, "improvement": 4}
    return sorted(out.values(), key=lambda j: (order.get(j.kind, 9), j.name))


def load_run(path: str | Path) -> RunData:
    """Read a run directory for the report. Raises :class:`NotARunDirectory` when the directory holds
    none of the run files, ``FileNotFoundError`` when it does not exist."""
    rd = RunDir(path)
    markers = ("manifest.json", "factors.parquet", "tables", "scores", "dataset")
    if not any(rd.exists(m) for m in markers):
        raise NotARunDirectory(f"{rd.path} is not a run directory: it has none of {', '.join(markers)} "
                               f"(see docs/run-directory.md)")
    run = RunData(path=rd.path, manifest={})
    run.manifest = _try(run, "manifest.json", rd.read_manifest) or {}
    if not isinstance(run.manifest, dict):
        run.problems.append("manifest.json is not a JSON object")
        run.manifest = {}
    try:
        run.typed = RunManifest.model_validate({**run.manifest, "judges": [
            j for j in run.manifest.get("judges") or [] if isinstance(j, dict) and "name" in j]})
    except Exception as e:  # noqa: BLE001 - a malformed manifest is reported, not fatal
        run.problems.append(f"manifest.json: {type(e).__name__}: {e}")
    run.info = _json(rd, run, "dataset/info.json")
    if rd.exists("dataset/info.json"):
        run.dataset = _try(run, "dataset/", rd.read_dataset)
    if rd.exists("factors.parquet"):
        run.factors = _try(run, "factors.parquet", rd.read_factors)
    run.factor_details = _table(rd, run, TABLES["factor_details"])
    run.scores = _table(rd, run, TABLES["factor_scores"])
    pre = _judges(run.typed, None, None)
    if run.scores is None and rd.exists("scores"):
        run.scores = _try(run, "scores/*.json", lambda: _scores_from_json(rd, {j.name: j for j in pre}))
    if run.scores is not None:
        need = {"judge", "factor", "score"}
        if not need <= set(run.scores.columns):
            run.problems.append(f"{TABLES['factor_scores']} lacks columns {sorted(need - set(run.scores.columns))}")
            run.scores = None
    run.alignment = _table(rd, run, TABLES["alignment"])
    run.differences = _table(rd, run, TABLES["differences"])
    run.evaluator_bias = _table(rd, run, TABLES["evaluator_bias"])
    run.rewards = _table(rd, run, TABLES["rewards"])
    run.validation = _table(rd, run, TABLES["factor_validation"])
    run.validation_name = TABLES["factor_validation"] if run.validation is not None else None
    run.usage = _json(rd, run, "usage.json")
    run.diagnostics = _json(rd, run, "diagnostics.json")
    run.experiments = _experiments(rd, run)
    run.judges = _judges(run.typed, run.scores, run.dataset)
    return run
