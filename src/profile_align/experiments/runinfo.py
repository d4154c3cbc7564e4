"""What the experiments need to know about a finished run: its judges, their models, its factors."""

from __future__ import annotations

from typing import Any

from ..rundir import RunDir

__all__ = ["judge_entries", "find_judge", "model_of", "factor_names", "factor_model", "run_task", "sampling",
           "factor_client"]


def judge_entries(rd: RunDir) -> list[dict[str, Any]]:
    return list(rd.read_manifest().get("judges", []))


def find_judge(rd: RunDir, kind: str, name: str | None = None) -> dict[str, Any]:
    """The manifest entry of a judge of ``kind`` (``evaluation`` / ``generation``): the one called
    ``name`` (``label`` or ``label:kind``), else the first of that kind."""
    entries = [j for j in judge_entries(rd) if j.get("kind") == kind]
    if name is not None:
        want = {name, f"{name}:{kind}"}
        entries = [j for j in entries if j.get("name") in want]
    if not entries:
        have = [j.get("name") for j in judge_entries(rd)]
        raise ValueError(f"{rd.path}: no {kind} judge{' ' + repr(name) if name else ''} in this run; judges: {have}")
    return entries[0]


def _label(judge_name: str) -> str:
    return judge_name.rsplit(":", 1)[0] if ":" in judge_name else judge_name


def model_of(rd: RunDir, judge_name: str) -> str:
    """The model string the run's config gave the judge (label = the part before ``:kind``)."""
    label = _label(judge_name)
    for j in rd.read_manifest().get("config", {}).get("judges", []):
        if (j.get("name") or j.get("model")) == label:
            return str(j["model"])
    raise ValueError(f"{rd.path}: the run's config has no judge labelled {label!r}; pass --model")


def factor_names(rd: RunDir) -> list[str]:
    return rd.read_factors().factor_names


def factor_model(rd: RunDir) -> str | None:
    cfg = rd.read_manifest().get("config", {})
    m = (cfg.get("factors") or {}).get("model")
    if m:
        return str(m)
    judges = cfg.get("judges") or []
    return str(judges[0]["model"]) if judges else None


def run_task(rd: RunDir) -> str:
    return str(rd.read_json("dataset/info.json")["task"])


def sampling(rd: RunDir) -> dict[str, Any]:
    b = rd.read_manifest().get("config", {}).get("backend", {}) or {}
    return {"temperature": b.get("temperature", 0.6), "top_p": b.get("top_p", 0.9), "seed": b.get("seed", 0)}


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
