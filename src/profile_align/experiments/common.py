"""Shared plumbing of the experiments: the LLM client of a run directory, and writing
an experiment's results into ``RUN_DIR/experiments/<name>/`` (``summary.json`` + tables)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ..rundir import RunDir

__all__ = ["experiment_client", "model_name", "write_experiment", "read_experiment"]


def experiment_client(model: str | Any, run_dir: RunDir | None, *, cache_mode: str = "use",
                      concurrency: int = 4, progress: bool = True, accounting: Any = None) -> Any:
    """A :class:`~profile_align.backends.Client` caching into the run directory's ``cache.sqlite``
    (so a killed experiment resumes without paying twice). ``model`` may already be a Client.
    ``accounting``: record this client's calls in an existing Accounting (one usage record per experiment)."""
    from ..backends.factory import make_client

    return make_client(model, run_dir=run_dir, cache_mode=cache_mode, concurrency=concurrency, progress=progress,
                       accounting=accounting)


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
