"""Shared plumbing of the experiments: prompt templates, the LLM client of a run directory, and writing
an experiment's results into ``RUN_DIR/experiments/<name>/`` (``summary.json`` + tables)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from ..rundir import RunDir

__all__ = ["Prompt", "load_prompt", "experiment_client", "model_name", "write_experiment", "read_experiment"]

_VERSION = re.compile(r"^#\s*version:\s*(\S+)\s*$")


@dataclass(frozen=True)
class Prompt:
    """A prompt template (``str.format`` fields) and its version (part of the LLM cache key)."""

    name: str
    version: str
    template: str

    def render(self, **fields: Any) -> str:
        return self.template.format(**fields)


@lru_cache(maxsize=None)
def load_prompt(name: str) -> Prompt:
    """``experiments/prompts/<name>.txt``; its first line is ``# version: N``."""
    text = resources.files(__package__).joinpath("prompts").joinpath(f"{name}.txt").read_text(encoding="utf-8")
    first, _, body = text.partition("\n")
    m = _VERSION.match(first)
    if not m:
        raise ValueError(f"prompt {name!r} must start with '# version: N'")
    return Prompt(name, m.group(1), body.strip("\n"))


def experiment_client(model: str | Any, run_dir: RunDir | None, *, cache_mode: str = "use",
                      concurrency: int = 4, progress: bool = True) -> Any:
    """A :class:`~profile_align.backends.Client` caching into the run directory's ``cache.sqlite``
    (so a killed experiment resumes without paying twice). ``model`` may already be a Client."""
    from ..backends import Client

    if isinstance(model, Client):
        return model
    cache = (run_dir / "cache.sqlite") if run_dir is not None else None
    return Client(model, cache=cache, cache_mode=cache_mode, concurrency=concurrency, progress=progress)


def model_name(model: Any) -> str:
    """A model string, or the model id of a Client / backend object."""
    backend = getattr(model, "backend", model)
    return str(getattr(backend, "model_id", model))


def write_experiment(run_dir: RunDir, name: str, summary: dict[str, Any],
                     tables: dict[str, pd.DataFrame]) -> Path:
    """Write ``experiments/<name>/summary.json`` and one .parquet + .csv per table."""
    for tname, df in tables.items():
        run_dir.write_table(f"experiments/{name}/{tname}", df)
    run_dir.write_json(f"experiments/{name}/summary.json", summary)
    return run_dir.path / "experiments" / name


def read_experiment(run_dir: RunDir, name: str) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    folder = run_dir.path / "experiments" / name
    if not (folder / "summary.json").exists():
        raise FileNotFoundError(f"{run_dir.path}: no results of experiment {name!r}")
    tables = {p.stem: pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))}
    return run_dir.read_json(f"experiments/{name}/summary.json"), tables
