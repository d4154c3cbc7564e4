"""Statistics of PROFILE: tie-aware Kendall tau factor scores, bootstrap CIs, judge alignment and
difference tests (vectorised numpy, exact integer counts).

Conventions: ``pref`` (P,) in {+1, -1, 0}; ``fcmp`` (P, F) in {+1, -1, 0, NaN}; ``example_ids`` (P,).
"""

from profile_align.stats.alignment import (
    AgreementResult,
    AlignmentResult,
    align,
    cosine_minmax,
    kendall_tau_b_rows,
    minmax_scale,
    paired_boot_scores,
    pairwise_agreement,
    wilson_interval,
)
from profile_align.stats.difference import DifferenceResult, compare_judges, holm
from profile_align.stats.scores import FactorScoreResult, compute_factor_scores, scores_from_example_counts
from profile_align.stats.tau import (
    CATEGORIES,
    COUNT_ALL,
    DROP_ALL,
    EVALUATION,
    FACTOR_TIES_COUNTED,
    GENERATION,
    HUMAN,
    POLICIES,
    Counts,
    TiePolicy,
    acc_23,
    compare_values,
    get_policy,
    pair_counts,
    tau_14,
    tau_23,
    tau_b,
)

__all__ = [
    # tau
    "TiePolicy", "GENERATION", "EVALUATION", "HUMAN", "FACTOR_TIES_COUNTED", "COUNT_ALL", "DROP_ALL", "POLICIES", "get_policy",
    "CATEGORIES", "Counts", "compare_values", "pair_counts", "tau_14", "tau_b", "tau_23", "acc_23",
    # scores
    "FactorScoreResult", "compute_factor_scores", "scores_from_example_counts",
    # alignment
    "AlignmentResult", "align", "AgreementResult", "pairwise_agreement", "wilson_interval",
    "minmax_scale", "cosine_minmax", "kendall_tau_b_rows", "paired_boot_scores",
    # difference
    "DifferenceResult", "compare_judges", "holm",
]  # fmt: skip
