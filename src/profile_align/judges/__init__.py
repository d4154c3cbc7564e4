"""Judges in PROFILE's settings: the human labels, a model as generator (scored outputs), a model as
evaluator (pairwise, both orders) and reward models — each a :class:`Judge` (``judges/base.py``). Prompts
are package-data files in ``judges/prompts`` in the package's one prompt format (:mod:`profile_align.prompts`)."""

from .base import JUDGE_BUILDERS, SETTINGS, Judge, JudgeContext, JudgeKind, judge_builder, register_judge
from .common import JudgeCalls, JudgeResult
from .evaluation import COMBINE_RULES, FIRST_ORDER, EvaluationJudge, combine_verdicts, parse_better, position_stats, verdict_from_position
from .generation import VARIANTS, GenerationJudge, GradedParse, parse_graded
from .human import HUMAN, HumanJudge, human_judge
from .reward_model import SCORERS, RewardModelJudge, ServerScorer, TransformersScorer, make_scorer, read_scores
from .wording import length_limit, render_context, task_wording, wording_tag

__all__ = [
    "Judge", "JudgeKind", "JudgeContext", "JUDGE_BUILDERS", "SETTINGS", "register_judge", "judge_builder",
    "JudgeResult", "JudgeCalls",
    "EvaluationJudge", "COMBINE_RULES", "FIRST_ORDER", "combine_verdicts", "parse_better", "position_stats", "verdict_from_position",
    "GenerationJudge", "GradedParse", "parse_graded", "VARIANTS",
    "HUMAN", "HumanJudge", "human_judge",
    "RewardModelJudge", "SCORERS", "ServerScorer", "TransformersScorer", "make_scorer", "read_scores",
    "length_limit", "render_context", "task_wording", "wording_tag",
]  # fmt: skip
