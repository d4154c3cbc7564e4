"""Judges in PROFILE's settings: the human labels, a model as generator (scored outputs), a model as
evaluator (pairwise, both orders) and reward models. Prompts are package-data files in
``judges/prompts`` in the package's one prompt format (:mod:`profile_align.prompts`)."""

from .common import JudgeCalls, JudgeResult
from .evaluation import COMBINE_RULES, EvaluationJudge, combine_verdicts, parse_better, position_stats, verdict_from_position
from .generation import VARIANTS, GenerationJudge, GradedParse, parse_graded
from .human import HUMAN, human_judge
from .reward_model import SCORERS, RewardModelJudge, ServerScorer, TransformersScorer, make_scorer, read_scores
from .wording import length_limit, render_context, task_wording, wording_tag

__all__ = [
    "JudgeResult", "JudgeCalls",
    "EvaluationJudge", "COMBINE_RULES", "combine_verdicts", "parse_better", "position_stats", "verdict_from_position",
    "GenerationJudge", "GradedParse", "parse_graded", "VARIANTS",
    "HUMAN", "human_judge",
    "RewardModelJudge", "SCORERS", "ServerScorer", "TransformersScorer", "make_scorer", "read_scores",
    "length_limit", "render_context", "task_wording", "wording_tag",
]  # fmt: skip
