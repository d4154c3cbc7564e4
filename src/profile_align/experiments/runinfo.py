"""What the experiments need to know about a finished run — its judges, their models and settings, its
factors and factor model, its task and sampling — read from the run's typed manifest
(:meth:`profile_align.rundir.RunDir.manifest`), never re-derived from config defaults here."""

from __future__ import annotations

from typing import Any

from ..rundir import RunDir

__all__ = ["judge_entries", "find_judge", "model_of", "judge_config", "factor_names", "factor_model", "run_task",
           "sampling", "factor_client"]


def judge_entries(rd: RunDir) -> list[dict[str, Any]]:
    return [j.model_dump() for j in rd.manifest().judges]


def find_judge(rd: RunDir, kind: str, name: str | None = None) -> dict[str, Any]:
    """The manifest entry of a judge of ``kind`` (``evaluation`` / ``generation``): the one called
    ``name`` (``label`` or ``label:kind``), else the first of that kind."""
    m = rd.manifest()
    entries = m.judges_of(kind)
    if name is not None:
        entries = [j for j in entries if j.name in (name, f"{name}:{kind}") or j.label == name]
    if not entries:
        have = [j.name for j in m.judges]
        raise ValueError(f"{rd.path}: no {kind} judge{' ' + repr(name) if name else ''} in this run; judges: {have}")
    return entries[0].model_dump()


def model_of(rd: RunDir, judge_name: str) -> str:
    """The model string of a judge of the run (by name or label), as its manifest entry records it."""
    model = rd.manifest().model_of(judge_name)
    if model is None:
        raise ValueError(f"{rd.path}: the run has no judge {judge_name!r} with a model; pass --model")
    return model


def judge_config(rd: RunDir, judge_name: str) -> Any:
    """The run config's :class:`~profile_align.pipeline.config.JudgeConfig` of a model judge (by name or
    label), with every default filled in; None when the run's config has none."""
    m = rd.manifest()
    cfg = m.run_config()
    entry = next((j for j in m.judges if judge_name in (j.name, j.label)), None)
    label = entry.label if entry is not None and entry.label else judge_name.rsplit(":", 1)[0]
    return next((jc for jc in (cfg.judges if cfg is not None else []) if jc.label == label), None)


def factor_names(rd: RunDir) -> list[str]:
    return rd.read_factors().factor_names


def factor_model(rd: RunDir) -> str | None:
    return rd.manifest().factor_model


def run_task(rd: RunDir) -> str:
    task = rd.manifest().dataset.get("task")
    return str(task) if task else str(rd.read_json("dataset/info.json")["task"])


def sampling(rd: RunDir) -> dict[str, Any]:
    return rd.manifest().sampling


def factor_client(rd: RunDir, names: list[str], candidates: dict[str, Any], explicit: Any = None, *,
                  cache_mode: str = "use", progress: bool = True) -> Any:
    """The client for extracting ``names``: None when they are all rule-based; else the explicit model,
    or the run's factor model — reusing a client in ``candidates`` (model string -> client) for it."""
    from ..taxonomy import REGISTRY
    from .common import experiment_client

    if all(REGISTRY.get(n).computable_without_model for n in names if n in REGISTRY):
        return None
    model = explicit if explicit is not None else factor_model(rd)
    if model is None:
        raise ValueError("LLM-extracted factors need a model: pass --factor-model")
    if not isinstance(model, str):
        return experiment_client(model, rd)
    return candidates.get(model) or experiment_client(model, rd, cache_mode=cache_mode, progress=progress)
