"""Report section and figures of the joint, confound-controlled factor effects (``tables/joint_*`` written
by ``profile-align explain RUN_DIR``; see docs/joint.md). Registered on import of :mod:`profile_align.report`."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

from ..rundir import RunDir
from .blocks import Block, FigureRef, KeyValues, Note, Table, fmt_num, fmt_p, fmt_pct, fmt_score
from .build import RunData
from .derive import factor_label
from .plots import NEG, NEUTRAL, POS, SIG, correlation_heatmap, register_figure
from .sections import Omitted, register_section

__all__ = ["joint_tables", "sec_joint", "fig_joint_effects", "fig_joint_correlation"]

_HINT = "run `profile-align explain RUN_DIR` to add the joint model"


def joint_tables(run: RunData) -> dict[str, Any]:
    """The ``tables/joint_*`` of a run (absent ones left out) and ``joint_effects.json`` under ``summary``."""
    rd = RunDir(run.path)
    out: dict[str, Any] = {}
    for name in ("joint_effects", "joint_differences", "joint_alignment", "joint_predictive", "joint_correlation",
                 "joint_lc_agreement"):
        if rd.has_table(f"tables/{name}"):
            out[name] = rd.read_table(f"tables/{name}")
    if rd.exists("tables/joint_effects.json"):
        out["summary"] = json.loads((rd / "tables/joint_effects.json").read_text(encoding="utf-8"))
    return out


def _interval(ax, y: np.ndarray, v: np.ndarray, lo: np.ndarray, hi: np.ndarray, color: str, filled: bool) -> None:
    ok = ~(np.isnan(v) | np.isnan(lo) | np.isnan(hi))
    if not ok.any():
        return
    err = np.clip(np.vstack([v[ok] - lo[ok], hi[ok] - v[ok]]), 0, None)
    ax.errorbar(v[ok], y[ok], xerr=err, fmt="o", color=color, ecolor=color, elinewidth=1.0, capsize=2.5,
                markersize=4.5, markerfacecolor=color if filled else "white")


@register_figure("joint_effects", "tau_14 alone (left) and joint coefficient with the other factors held fixed (right)")
def fig_joint_effects(run: RunData):
    t = joint_tables(run).get("joint_effects")
    if t is None or t.empty:
        return None
    from matplotlib.figure import Figure

    judges = list(dict.fromkeys(t["judge"]))
    factors = list(dict.fromkeys(t["factor"]))
    labels = [factor_label(f) for f in factors]
    fig = Figure(figsize=(8.0, 0.6 + (0.28 * len(factors) + 0.7) * len(judges)), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(judges), 2, squeeze=False))
    y = np.arange(len(factors))
    for i, j in enumerate(judges):
        sub = t[t["judge"] == j].set_index("factor").reindex(factors)
        left, right = axes[i]
        _interval(left, y, sub["tau_14"].to_numpy(float), sub["tau_low"].to_numpy(float),
                  sub["tau_high"].to_numpy(float), NEUTRAL, True)
        _interval(right, y - 0.15, sub["alone_coef"].to_numpy(float), sub["alone_low"].to_numpy(float),
                  sub["alone_high"].to_numpy(float), NEUTRAL, False)
        coef = sub["coef"].to_numpy(float)
        color = [POS if c >= 0 else NEG for c in np.nan_to_num(coef)]
        for k in range(len(factors)):
            _interval(right, y[k:k + 1] + 0.15, coef[k:k + 1], sub["ci_low"].to_numpy(float)[k:k + 1],
                      sub["ci_high"].to_numpy(float)[k:k + 1], color[k], True)
        for ax, title in ((left, f"{j}: tau_14 (one factor)"), (right, f"{j}: log-odds per SD (● joint, ○ alone)")):
            ax.axvline(0, color=SIG, linewidth=0.8)
            ax.set_yticks(y, labels)
            ax.set_ylim(len(factors) - 0.5, -0.5)
            ax.set_title(title[:60])
            ax.grid(axis="x", color="#dddddd", linewidth=0.6)
            ax.set_axisbelow(True)
        right.tick_params(labelleft=False)
        left.set_xlim(-1.05, 1.05)
    return fig


@register_figure("joint_correlation", "Correlation of the pairwise factor differences (input of the joint model)")
def fig_joint_correlation(run: RunData):
    c = _corr_matrix(run)
    return None if c is None or len(c) < 2 else correlation_heatmap(c)


def _corr_matrix(run: RunData) -> pd.DataFrame | None:
    long = joint_tables(run).get("joint_correlation")
    if long is None or long.empty:
        return None
    judges = list(dict.fromkeys(long["judge"]))
    ref = "human" if "human" in judges else judges[0]
    sub = long[long["judge"] == ref]
    order = list(dict.fromkeys(sub["factor"]))
    return sub.pivot(index="factor", columns="other", values="r").reindex(index=order, columns=order)


@register_section("joint", "Joint factor effects (confound-controlled)",
                  "Each judge's preference regressed on all factor differences at once (logistic Bradley-Terry, or "
                  "ordinal when the judge ties): a factor's effect with the other factors held fixed, next to its "
                  "one-factor tau_14. Coefficients are log-odds per SD of the factor difference; dP is the change of "
                  "the predicted preference probability for a one-SD difference. See docs/joint.md.")
def sec_joint(run: RunData) -> list[Block]:
    t = joint_tables(run)
    eff = t.get("joint_effects")
    if eff is None or eff.empty:
        raise Omitted(f"no tables/joint_effects in this run directory ({_HINT})")
    summary = t.get("summary") or {}
    blocks: list[Block] = [FigureRef("joint_effects")]
    for judge, fit in (summary.get("fits") or {}).items():
        how = ("example-clustered robust SEs" if fit.get("inference") == "cluster"
               else f"{fit.get('n_boot')} example-bootstrap replicates")
        items = [("model", str(fit.get("model_description", fit.get("model")))), ("CI", how),
                 ("pairs used", f"{fit.get('n_pairs')} of {fit.get('n_input')} ({fit.get('n_examples')} examples)")]
        items += [(f"dropped: {why}", str(n)) for why, n in (fit.get("dropped") or {}).items()]
        items += [(f"excluded: {f}", why) for f, why in (fit.get("excluded") or {}).items()]
        blocks.append(KeyValues(items, f"Joint model of {judge}", columns=2))
        blocks += [Note(w, "warn") for w in fit.get("warnings") or []]
    rows = []
    for r in eff.itertuples(index=False):
        rows.append([r.judge, factor_label(r.factor), fmt_score(r.tau_14), fmt_score(r.alone_coef),
                     fmt_score(r.lc_coef), f"{r.coef:+.3f} [{r.ci_low:+.3f}, {r.ci_high:+.3f}]", fmt_p(r.p_holm),
                     fmt_score(r.delta_prob), fmt_num(r.vif, 2)])
    blocks.append(Table(["judge", "factor", "tau_14", "alone", "length held fixed", "joint (CI)", "p (Holm)",
                         "dP per SD", "VIF"], rows, "One-factor vs joint reading per factor", frozenset(range(2, 9)),
                        group_column=0))
    sentences = summary.get("sentences") or []
    blocks += [Note(s) for s in sentences]
    if not sentences:
        blocks.append(Note("No factor changes its reading between the one-factor and the joint model "
                           "(strong alone and null jointly, or the reverse)."))
    diff = t.get("joint_differences")
    if diff is not None and not diff.empty:
        rows = [[f"{r.judge_b} − {r.judge_a}", factor_label(r.factor), fmt_score(r.coef_a), fmt_score(r.coef_b),
                 f"{r.diff:+.3f} [{r.ci_low:+.3f}, {r.ci_high:+.3f}]", fmt_p(r.p_holm), "*" if r.significant else ""]
                for r in diff.itertuples(index=False)]
        blocks.append(Table(["judges", "factor", "reference", "judge", "difference (CI)", "p (Holm)", "sig."], rows,
                            "Judge minus reference on the joint scale (paired example bootstrap)",
                            frozenset({2, 3, 4, 5}), group_column=0))
    al = t.get("joint_alignment")
    if al is not None and not al.empty:
        rows = [[f"{r.judge_b} vs {r.judge_a}", str(r.scale), fmt_score(r.kendall_tau), fmt_score(r.spearman_rho),
                 fmt_score(r.cosine), str(r.n_factors), str(r.note or "")] for r in al.itertuples(index=False)]
        blocks.append(Table(["judges", "scale", "Kendall tau", "Spearman rho", "cosine", "factors", "note"], rows,
                            "Alignment of the factor profiles: joint coefficients next to tau_14",
                            frozenset({2, 3, 4, 5}), group_column=0))
    lc = t.get("joint_lc_agreement")
    if lc is not None and not lc.empty:
        def pct_ci(v: Any, lo: Any, hi: Any) -> str:
            return fmt_pct(v) + ("" if pd.isna(lo) else f" [{fmt_pct(lo)}, {fmt_pct(hi)}]")

        rows = [[str(r.judge), str(r.reference), pct_ci(r.raw_agreement, r.raw_low, r.raw_high),
                 pct_ci(r.lc_agreement, r.lc_low, r.lc_high), fmt_score(r.length_coef), str(r.model), str(r.n_pairs)]
                for r in lc.itertuples(index=False)]
        blocks.append(Table(["judge", "reference", "agreement", "length-controlled", "length coef.", "model", "pairs"],
                            rows, "Length-controlled agreement (AlpacaEval-LC idea: length term set to zero; "
                            "example-bootstrap CIs)", frozenset({2, 3, 4, 6})))
    pred = t.get("joint_predictive")
    if pred is not None and not pred.empty:
        rows = [[str(r.judge), str(r.model), fmt_num(r.accuracy), fmt_num(r.log_loss, 4), str(r.n_pairs)]
                for r in pred.itertuples(index=False)]
        blocks.append(Table(["judge", "model", "accuracy", "log-loss", "pairs"], rows,
                            "Predictive check: cross-validated over whole examples", frozenset({2, 3, 4}),
                            group_column=0))
    if _corr_matrix(run) is not None:
        blocks.append(FigureRef("joint_correlation"))
    for p in summary.get("problems") or []:
        blocks.append(Note(p, "warn"))
    return blocks
