"""profile-align: PROFILE (Oh et al. 2024) — which factors drive a judge's pairwise preferences, and
do humans and models prefer for the same reasons.

>>> import profile_align as pa
>>> ds = pa.load_dataset("summeval")                    # shipped SummEval expert ratings -> pairs
>>> table = pa.compute_factors(ds)                      # rule-based factors, once per text
>>> human = pa.factor_scores(ds, table, judge="human")  # tau_14 per factor with bootstrap CIs
>>> human.to_frame()
"""

from .data import Dataset, Example, FactorValue, InvalidInputError, LoadReport, Output, Pair, Preference, Verdict
from .data.loaders import list_formats, load_dataset, shipped_datasets
from .explain import JointAnalysis, explain, joint_effects
from .factors import FactorTable, compute_factors, llm_factor, register_factor
from .scoring import agreement, factor_scores, pair_arrays
from .stats import (
    AgreementResult,
    AlignmentResult,
    DifferenceResult,
    FactorScoreResult,
    TiePolicy,
    align,
    compare_judges,
    cosine_minmax,
    pairwise_agreement,
)
from .taxonomy import REGISTRY, Factor, factors_for_task, get_factor

from .version import __version__

__all__ = [
    "__version__",
    # data
    "Dataset", "Example", "Output", "Pair", "Preference", "Verdict", "FactorValue", "LoadReport", "InvalidInputError",
    "load_dataset", "list_formats", "shipped_datasets",
    # factors
    "Factor", "REGISTRY", "register_factor", "llm_factor", "get_factor", "factors_for_task", "FactorTable", "compute_factors",
    # statistics
    "TiePolicy", "FactorScoreResult", "AlignmentResult", "AgreementResult", "DifferenceResult",
    "factor_scores", "pair_arrays", "align", "agreement", "pairwise_agreement", "compare_judges", "cosine_minmax",
    "explain", "joint_effects", "JointAnalysis",
]
