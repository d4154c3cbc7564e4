"""Glue between the data model and the joint models of :mod:`profile_align.stats.joint`: a dataset, a
factor table and a judge -> :class:`~profile_align.stats.joint.JointFit`; several judges -> a
:class:`JointAnalysis` (fits, human-vs-model differences on the joint scale, length-controlled agreement,
predictive check, tau_14 side by side). See docs/joint.md.

>>> import profile_align as pa
>>> from profile_align.explain import explain
>>> ds = pa.load_dataset("summeval"); table = pa.compute_factors(ds)
>>> res = explain(ds, table)          # every judge of the dataset
>>> res.to_frame()                   # one row per judge and factor
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .data.dataset import Dataset
from .factors.table import FactorTable, compute_factors
from .scoring import factor_scores
from .stats.joint import (
    INFERENCE,
    SCALES,
    JointComparison,
    JointFit,
    JointFitError,
    LengthControlledAgreement,
    choose_model,
    compare_joint,
    difference_sd,
    fit_joint,
    length_controlled_agreement,
    predictive_check,
)

__all__ = ["joint_effects", "explain", "JointAnalysis", "TABLES", "write_analysis"]

#: Tables a :class:`JointAnalysis` writes under ``tables/`` of a run directory.
TABLES = ("joint_effects", "joint_differences", "joint_alignment", "joint_predictive", "joint_correlation",
          "joint_lc_agreement")


def _values(dataset: Dataset, table: FactorTable, pair_ids: Sequence[str], factors: Sequence[str]):
    pairs = dataset.pair_map()
    pl = [pairs[p] for p in pair_ids]
    return (table.lookup([p.a for p in pl], factors), table.lookup([p.b for p in pl], factors),
            np.array([p.example_id for p in pl], dtype=object))


def _factor_list(table: FactorTable, factors: Sequence[str] | None) -> list[str]:
    names = list(factors) if factors is not None else list(table.factor_names)
    unknown = [f for f in names if f not in table.factor_names]
    if unknown:
        raise KeyError(f"factor table has no column(s) {unknown}; it has {table.factor_names}")
    return names


def dataset_sd(dataset: Dataset, table: FactorTable, factors: Sequence[str], scale: str = "value") -> np.ndarray:
    """SD of each factor's difference over all pairs of the dataset: the common unit of every judge."""
    va, vb, _ = _values(dataset, table, [p.id for p in dataset.pairs], factors)
    return difference_sd(va, vb, scale)


def joint_effects(dataset: Dataset, factor_table: FactorTable | None = None, *, judge: str = "human",
                  factors: Sequence[str] | None = None, ties: str = "auto", inference: str = "cluster",
                  n_boot: int = 200, l2: float = 0.0, ci: float = 0.95, seed: int = 0, scale: str = "value",
                  length_factor: str | None = "length", tau_boot: int = 1000,
                  sd: np.ndarray | None = None) -> JointFit:
    """The joint model of one judge on ``dataset`` (see :func:`profile_align.stats.joint.fit_joint`).

    ``factor_table`` defaults to the rule-based factors computed on the spot. The unit of each factor is
    the SD of its difference over *all* pairs of the dataset, so that the judges of one dataset share it.
    ``tau_boot > 0`` also computes PROFILE's tau_14 (with its bootstrap CI) for the side-by-side reading.
    """
    table = factor_table if factor_table is not None else compute_factors(dataset, factors)
    names = _factor_list(table, factors)
    prefs = dataset.preferences_of(judge)
    va, vb, ex = _values(dataset, table, [p.pair_id for p in prefs], names)
    pref = np.array([int(p.verdict) for p in prefs], dtype=np.int8)
    unit = dataset_sd(dataset, table, names, scale) if sd is None else sd
    fit = fit_joint(pref, va, vb, names, ex, judge=judge, ties=ties, inference=inference, n_boot=n_boot, l2=l2,
                    ci=ci, seed=seed, scale=scale, sd=unit, length_factor=length_factor)
    if tau_boot > 0:
        tau = factor_scores(dataset, table, judge=judge, factors=fit.factor_names, n_boot=tau_boot, ci=ci, seed=seed)
        fit.tau_14, fit.tau_low, fit.tau_high = tau.scores, tau.ci_low, tau.ci_high
    return fit


@dataclass(eq=False)
class JointAnalysis:
    """Joint fits of several judges, their differences from the reference judge, the length-controlled
    agreement of each judge with the reference, and the cross-validated predictive check."""

    dataset: str
    reference: str | None
    fits: dict[str, JointFit]
    comparisons: dict[str, JointComparison] = field(default_factory=dict)
    lc_agreement: dict[str, LengthControlledAgreement] = field(default_factory=dict)
    predictive: pd.DataFrame = field(default_factory=pd.DataFrame)
    problems: list[str] = field(default_factory=list)  # judges or parts that could not be fitted, and why

    def __getitem__(self, judge: str) -> JointFit:
        return self.fits[judge]

    def to_frame(self) -> pd.DataFrame:
        """One row per judge and factor (see :meth:`JointFit.to_frame`)."""
        frames = [f.to_frame() for f in self.fits.values()]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def sentences(self) -> list[str]:
        out = []
        for f in self.fits.values():
            out += f.sentences()
        for c in self.comparisons.values():
            out += c.sentences()
        return out

    def tables(self) -> dict[str, pd.DataFrame]:
        corr = []
        for f in self.fits.values():
            c = f.correlation.copy()
            c.index.name = "factor"
            long = c.reset_index().melt(id_vars="factor", var_name="other", value_name="r")
            long.insert(0, "judge", f.judge)
            corr.append(long)
        cmp_frames = [c.to_frame() for c in self.comparisons.values()]
        al_frames = [c.alignment_frame() for c in self.comparisons.values()]
        return {
            "joint_effects": self.to_frame(),
            "joint_differences": pd.concat(cmp_frames, ignore_index=True) if cmp_frames else pd.DataFrame(),
            "joint_alignment": pd.concat(al_frames, ignore_index=True) if al_frames else pd.DataFrame(),
            "joint_predictive": self.predictive,
            "joint_correlation": pd.concat(corr, ignore_index=True) if corr else pd.DataFrame(),
            "joint_lc_agreement": pd.DataFrame([{**v.to_dict(), "dropped": str(v.dropped)}
                                                for v in self.lc_agreement.values()]),
        }

    def summary(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "reference": self.reference,
                "fits": {j: f.summary() for j, f in self.fits.items()},
                "comparisons": {j: {"notes": c.notes, "sentences": c.sentences()} for j, c in self.comparisons.items()},
                "sentences": self.sentences(), "problems": list(self.problems)}


def explain(dataset: Dataset, factor_table: FactorTable | None = None, *, judges: Sequence[str] | None = None,
            reference: str | None = "human", factors: Sequence[str] | None = None, ties: str = "auto",
            inference: str = "cluster", n_boot: int = 200, l2: float = 0.0, ci: float = 0.95, seed: int = 0,
            scale: str = "value", length_factor: str | None = "length", tau_boot: int = 1000,
            cv_folds: int = 5) -> JointAnalysis:
    """Joint effects of every judge (default: all judges of the dataset) with the comparisons to
    ``reference``. A judge whose model cannot be fitted is listed in ``problems`` (never silently left out)."""
    _check_options(ties, inference, scale)
    table = factor_table if factor_table is not None else compute_factors(dataset, factors)
    names = _factor_list(table, factors)
    unit = dataset_sd(dataset, table, names, scale)
    todo = list(judges) if judges is not None else list(dataset.judges)
    ref = reference if reference in dataset.judges else None
    res = JointAnalysis(dataset.name, ref, {})
    for j in todo:
        try:
            res.fits[j] = joint_effects(dataset, table, judge=j, factors=names, ties=ties, inference=inference,
                                        n_boot=n_boot, l2=l2, ci=ci, seed=seed, scale=scale,
                                        length_factor=length_factor, tau_boot=tau_boot, sd=unit)
        except (JointFitError, KeyError, ValueError, np.linalg.LinAlgError) as e:  # options were checked above
            res.problems.append(f"{j}: not fitted: {e}")
            continue
        if cv_folds >= 2:
            try:
                res.predictive = pd.concat([res.predictive, predictive_check(res.fits[j], cv_folds, seed)],
                                           ignore_index=True)
            except JointFitError as e:
                res.problems.append(f"{j}: no predictive check: {e}")
    if ref is not None and ref in res.fits:
        for j, fit in res.fits.items():
            if j == ref:
                continue
            res.comparisons[j] = compare_joint(res.fits[ref], fit, n_boot=n_boot, seed=seed)
            if length_factor and length_factor in table.factor_names:
                try:
                    res.lc_agreement[j] = _lc(dataset, table, j, ref, length_factor, ties, n_boot, ci, seed)
                except (KeyError, ValueError, np.linalg.LinAlgError) as e:
                    res.problems.append(f"{j}: no length-controlled agreement: {e}")
    return res


def _check_options(ties: str, inference: str, scale: str) -> None:
    """Bad options are the caller's error (raised); a judge that cannot be fitted is a listed problem."""
    choose_model([1], ties)
    if inference not in INFERENCE:
        raise ValueError(f"inference must be one of {INFERENCE}, got {inference!r}")
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")


def _lc(dataset: Dataset, table: FactorTable, judge: str, reference: str, length_factor: str, ties: str,
        n_boot: int, ci: float, seed: int) -> LengthControlledAgreement:
    ref = {p.pair_id: int(p.verdict) for p in dataset.preferences_of(reference)}
    mine = {p.pair_id: int(p.verdict) for p in dataset.preferences_of(judge)}
    common = sorted(set(ref) & set(mine))
    if not common:
        raise JointFitError(f"{judge} and {reference} share no pairs")
    va, vb, ex = _values(dataset, table, common, [length_factor])
    return length_controlled_agreement([mine[k] for k in common], [ref[k] for k in common], va[:, 0], vb[:, 0], ex,
                                       judge=judge, reference=reference, ties=ties, n_boot=n_boot, ci=ci, seed=seed)


def write_analysis(run_dir: Any, res: Any) -> list[str]:
    """Write the tables of a :class:`~profile_align.explain.JointAnalysis` into a run directory
    (``tables/joint_*`` and ``tables/joint_effects.json``); returns the names written."""
    from .rundir import RunDir

    rd = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir, create=True)
    names = []
    for name, df in res.tables().items():
        if df.empty:  # e.g. no comparison without a reference judge: no table rather than an empty one
            continue
        rd.write_table(f"tables/{name}", df)
        names.append(f"tables/{name}.parquet|.csv")
    rd.write_json("tables/joint_effects.json", res.summary())
    return names + ["tables/joint_effects.json"]
