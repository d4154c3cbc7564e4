"""The human judge: the loaded dataset's labels (human ties were dropped and counted at load time)."""

from __future__ import annotations

from ..data.dataset import Dataset
from .common import JudgeResult

__all__ = ["HUMAN", "human_judge"]

HUMAN = "human"


def human_judge(dataset: Dataset) -> JudgeResult:
    """The human preferences of ``dataset`` as a :class:`JudgeResult` (policy ``human``)."""
    prefs = dataset.preferences_of(HUMAN)
    ties = dataset.report.ties_dropped if dataset.report is not None else None
    return JudgeResult(HUMAN, "human", None, "human", preferences=list(prefs),
                       stats={"ties_dropped_at_load": ties})
