"""Where the extraction engine's results go while it runs: a :class:`FactorSink` receives a
:class:`FactorSnapshot` after every extractor (status ``partial``) and once at the end (``complete``,
with the client's usage). The engine never writes files itself.

* :class:`RunDirSink` writes a run directory (docs/run-directory.md): ``factors.parquet``,
  ``factor_details.parquet``, the ``factors`` rows of ``answers.parquet``, the manifest's ``factors``
  entry and, at the end, ``factors_usage.json``.
* :class:`MemorySink` keeps every snapshot (tests, notebooks).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import pandas as pd

if TYPE_CHECKING:
    from ..rundir import RunDir
    from .table import FactorTable

__all__ = ["FactorSnapshot", "FactorSink", "RunDirSink", "MemorySink"]


@dataclass(frozen=True)
class FactorSnapshot:
    """The extraction's state: the factor table, one detail row per (output, factor), the answer rows,
    the manifest entry (names, status, extractors, missing, failures, unieval) and, when complete, usage."""

    table: FactorTable
    details: pd.DataFrame
    answers: pd.DataFrame
    manifest: dict[str, Any]
    status: str  # "partial" | "complete"
    usage: dict[str, Any] | None = None


@runtime_checkable
class FactorSink(Protocol):
    def write(self, snapshot: FactorSnapshot) -> None: ...


class RunDirSink:
    """Writes each snapshot into a run directory, atomically file by file."""

    def __init__(self, run_dir: str | Path | RunDir) -> None:
        from ..rundir import RunDir

        self.run_dir = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir, create=True)

    @property
    def path(self) -> Path:
        return Path(self.run_dir.path)

    def write(self, snapshot: FactorSnapshot) -> None:
        from ..rundir import ANSWER_COLUMNS

        rd = self.run_dir
        rd.write_factors(snapshot.table)
        rd.write_table("factor_details", snapshot.details, csv=False)
        rd.replace_answers("factors", snapshot.answers.reindex(columns=list(ANSWER_COLUMNS)))
        rd.update_manifest(factors=snapshot.manifest)
        if snapshot.usage is not None:
            rd.write_json("factors_usage.json", snapshot.usage)


class MemorySink:
    """Keeps every snapshot in ``snapshots``."""

    def __init__(self) -> None:
        self.snapshots: list[FactorSnapshot] = []

    def write(self, snapshot: FactorSnapshot) -> None:
        self.snapshots.append(snapshot)
