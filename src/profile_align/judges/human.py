"""The human judge: the loaded dataset's labels (human ties were dropped and counted at load time)."""

from __future__ import annotations

from ..data.dataset import Dataset
from .base import JudgeContext, JudgeKind
from .common import JudgeResult

__all__ = ["HUMAN", "HumanJudge", "human_judge"]

HUMAN = "human"


class HumanJudge:
    """The dataset's human preferences as a :class:`~profile_align.judges.base.Judge` (judge ``human``)."""

    name = HUMAN
    kind = JudgeKind.HUMAN
    setting = "evaluation"  # humans judge given pairs

    def judge(self, ctx: JudgeContext) -> JudgeResult:
        return human_judge(ctx.dataset)


def human_judge(dataset: Dataset) -> JudgeResult:
    """The human preferences of ``dataset`` as a :class:`JudgeResult` (policy ``human``)."""
    prefs = dataset.preferences_of(HUMAN)
    ties = dataset.report.ties_dropped if dataset.report is not None else None
    return JudgeResult(HUMAN, JudgeKind.HUMAN, None, "human", preferences=list(prefs),
                       stats={"ties_dropped_at_load": ties})
