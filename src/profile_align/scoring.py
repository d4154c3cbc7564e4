"""Glue between the data model and the statistics: a judge's preferences on a dataset's pairs plus a
factor table -> per-factor scores; two judges -> alignment, agreement and per-factor differences.

Pairs only *compare* cached factor values: f = sign(value(A) - value(B)), NaN where either value is
missing (that pair is then excluded from that factor and counted as ``missing``).

The tie policy of a judge follows its *kind* (:data:`KIND_POLICIES`), never its verdicts: a human or a
model evaluating given pairs gets the evaluation rule (factor-tied pairs omitted), a generator the
generation rule (factor-tied pairs counted). An explicit policy always wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .data.dataset import Dataset
from .data.model import Verdict
from .factors.table import FactorTable, compute_factors
from .judges.base import kind_of_name
from .stats import (
    AgreementResult,
    AlignmentResult,
    FactorScoreResult,
    align,
    compare_values,
    compute_factor_scores,
    pairwise_agreement,
)
from .stats.alignment import TieRule as AgreementTies
from .stats.tau import POLICIES, TiePolicy

__all__ = ["PairArrays", "pair_arrays", "factor_scores", "agreement", "default_policy", "judge_kind",
           "KIND_POLICIES", "UnknownJudgeKind", "data_judge_kind", "align", "pair_groups", "split_by_group", "group_factor_scores"]


@dataclass(frozen=True)
class PairArrays:
    """A judge's verdicts and the factor comparisons of the same pairs, aligned row by row."""

    pair_ids: np.ndarray  # (P,) str
    example_ids: np.ndarray  # (P,) str
    pref: np.ndarray  # (P,) int8 in {+1, -1, 0}
    fcmp: np.ndarray  # (P, F) float in {+1, -1, 0, NaN}
    factor_names: list[str]


#: Tie policy per judge kind (paper section 3): humans and models that evaluate given pairs (evaluators,
#: reward models scoring dataset pairs) omit factor-tied pairs; generators and improvers (whose "judge"
#: never ties) count them.
KIND_POLICIES: dict[str, str] = {
    "human": "human",
    "evaluation": "evaluation",
    "rm": "evaluation",
    "reward_model": "evaluation",
    "generation": "generation",
    "improvement": "generation",
}


class UnknownJudgeKind(ValueError):
    """The kind of a judge (hence its tie policy) cannot be told from its name."""


def judge_kind(name: str) -> str:
    """The kind of a judge from its name (docs/run-directory.md naming; one definition, the judges')."""
    return kind_of_name(name)


def default_policy(judge: str, kind: str | None = None) -> str:
    """The paper's tie policy for a judge of ``kind`` (default: told from the judge's name); see
    :data:`KIND_POLICIES`. Raises :class:`UnknownJudgeKind` when neither says which kind it is."""
    k = kind or judge_kind(judge)
    if k not in KIND_POLICIES:
        raise UnknownJudgeKind(
            f"cannot tell the kind of judge {judge!r} (hence its tie policy) from its name; name it human, "
            f"<label>:generation, <label>:evaluation or rm:<label>, or give the policy explicitly "
            f"(one of {', '.join(POLICIES)})")
    return KIND_POLICIES[k]


def data_judge_kind(dataset: Dataset, judge: str) -> str | None:
    """The kind a data set itself gives a judge: ``human`` for its own preference, the ``kind`` its loader
    stored on the judge's verdicts (``evaluation`` for a file's further label columns, ``--judges``)."""
    if judge == "human":
        return "human"
    kinds = {p.metadata.get("kind") for p in dataset.preferences_of(judge)} - {None}
    return kinds.pop() if len(kinds) == 1 else None


def pair_arrays(dataset: Dataset, table: FactorTable, judge: str = "human",
                factors: Sequence[str] | None = None, atol: float = 0.0) -> PairArrays:
    prefs = dataset.preferences_of(judge)
    pairs = dataset.pair_map()
    factor_names = list(factors) if factors is not None else table.factor_names
    pl = [pairs[p.pair_id] for p in prefs]
    va = table.lookup([p.a for p in pl], factor_names)
    vb = table.lookup([p.b for p in pl], factor_names)
    return PairArrays(
        pair_ids=np.array([p.id for p in pl], dtype=object),
        example_ids=np.array([p.example_id for p in pl], dtype=object),
        pref=np.array([int(p.verdict) for p in prefs], dtype=np.int8),
        fcmp=compare_values(va, vb, atol=atol),
        factor_names=factor_names,
    )


def factor_scores(dataset: Dataset, table: FactorTable | None = None, *, judge: str = "human",
                  factors: Sequence[str] | None = None, policy: str | TiePolicy | None = None,
                  kind: str | None = None, n_boot: int = 1000, ci: float = 0.95, seed: int = 0, atol: float = 0.0,
                  name: str | None = None) -> FactorScoreResult:
    """Factor scores (tau_14) of ``judge`` on ``dataset`` with example-level bootstrap CIs.

    ``table`` defaults to the rule-based factors computed on the spot. ``policy`` defaults to the
    policy of the judge's ``kind`` (:func:`default_policy`; the kind defaults to the one its name says).
    ``name`` labels the result (default: the judge name). The bootstrap resamples clusters of examples
    with the same input text (:meth:`Dataset.clusters`).
    """
    pol = policy or default_policy(judge, kind or data_judge_kind(dataset, judge))
    if table is None:
        table = compute_factors(dataset, factors)
    arr = pair_arrays(dataset, table, judge, factors, atol)
    clusters = dataset.clusters()  # examples sharing an input text are one bootstrap cluster
    cluster_ids = np.array([clusters[e] for e in arr.example_ids], dtype=object)
    return compute_factor_scores(arr.pref, arr.fcmp, arr.factor_names, cluster_ids, policy=pol,
                                 judge=name or judge, n_boot=n_boot, ci=ci, seed=seed)


def agreement(dataset: Dataset, judge_a: str = "human", judge_b: str = "model", *,
              ties: AgreementTies = "disagree") -> AgreementResult:
    """Pairwise agreement of two judges on the pairs both judged."""
    a = {p.pair_id: int(p.verdict) for p in dataset.preferences_of(judge_a)}
    b = {p.pair_id: int(p.verdict) for p in dataset.preferences_of(judge_b)}
    common = sorted(set(a) & set(b))
    if not common:
        raise ValueError(f"judges {judge_a!r} and {judge_b!r} share no pairs")
    pairs = dataset.pair_map()
    return pairwise_agreement(np.array([a[k] for k in common]), np.array([b[k] for k in common]), ties=ties,
                              example_ids=np.array([pairs[k].example_id for k in common], dtype=object))


# -- per-subgroup scores (``--group-by``) ------------------------------------------------------
def pair_groups(dataset: Dataset, columns: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Pair id -> its values of the ``group_by`` columns (kept by the loader in the human
    preference's metadata under ``"groups"``)."""
    out: dict[str, tuple[str, ...]] = {}
    for p in dataset.preferences_of("human"):
        groups = p.metadata.get("groups") or {}
        missing = [c for c in columns if c not in groups]
        if missing:
            raise ValueError(f"pair {p.pair_id!r} has no value of {', '.join(missing)}: load the data with "
                             f"--group-by {','.join(columns)}")
        out[p.pair_id] = tuple(str(groups[c]) for c in columns)
    return out


def split_by_group(dataset: Dataset, columns: Sequence[str]) -> dict[tuple[str, ...], Dataset]:
    """One dataset per combination of group values (in order of first appearance): the pairs of that
    subgroup with every judge's preferences on them."""
    groups = pair_groups(dataset, columns)
    order: dict[tuple[str, ...], list] = {}
    for p in dataset.pairs:
        if p.id in groups:
            order.setdefault(groups[p.id], []).append(p)
    out = {}
    for key, pairs in order.items():
        ids = {p.id for p in pairs}
        out[key] = Dataset(dataset.name, dataset.task, dataset.examples, dataset.outputs, pairs,
                           [pr for pr in dataset.preferences if pr.pair_id in ids], dataset.report)
    return out


def group_factor_scores(dataset: Dataset, table: FactorTable | None, columns: Sequence[str], *,
                        judges: Sequence[str] = ("human",), **kwargs) -> dict[tuple[str, ...], dict[str, FactorScoreResult]]:
    """Factor scores of each judge in each subgroup: ``{group values: {judge: result}}`` (a judge with
    no verdicts in a subgroup is left out of it). ``kwargs`` as for :func:`factor_scores`."""
    if table is None:
        table = compute_factors(dataset, kwargs.get("factors"))
    policy = kwargs.pop("policy", None)
    policies = {j: policy or default_policy(j, data_judge_kind(dataset, j)) for j in judges}  # one per judge, not per group
    out: dict[tuple[str, ...], dict[str, FactorScoreResult]] = {}
    for key, sub in split_by_group(dataset, columns).items():
        present = set(sub.judges)
        out[key] = {j: factor_scores(sub, table, judge=j, policy=policies[j], **kwargs) for j in judges if j in present}
    return out


# re-exported for the top-level API
_ = (AlignmentResult, Verdict)
