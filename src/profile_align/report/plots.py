"""Figures of the report: matplotlib (object API, no pyplot state) -> inline SVG or PNG, deterministic.

Every figure is a function ``RunData -> Figure | None`` in :data:`FIGURES` (``None``: the run lacks the
data). SVGs are made byte-stable: fixed rcParams, a fixed ``svg.hashsalt`` per figure, no metadata
(no date, no creator URL), text kept as text (``svg.fonttype = none``), math parsing off so ``$`` in a
name is just a character; XML prolog, DOCTYPE and namespace declarations are stripped for inlining.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .build import RunData
from .derive import differences, factor_correlation, factor_label, gen_eval_pairs, score_matrix

__all__ = ["FIGURES", "FIGURE_TITLES", "RC", "render_figures", "figure_svg", "save_png", "register_figure",
           "correlation_heatmap"]

RC: dict[Any, Any] = {  # matplotlib rcParams (its keys are typed as a Literal of every rc name)
    "svg.fonttype": "none",
    "svg.image_inline": True,
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "text.parse_math": False,
    "text.usetex": False,
    "figure.dpi": 100,
    "savefig.dpi": 110,
    "path.simplify": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
POS, NEG, NEUTRAL, SIG = "#3467a8", "#c2533b", "#8c8c8c", "#1b1b1b"

FigureFn = Callable[[RunData], "object | None"]
FIGURES: dict[str, FigureFn] = {}
FIGURE_TITLES: dict[str, str] = {}


def register_figure(name: str, title: str) -> Callable[[FigureFn], FigureFn]:
    def deco(fn: FigureFn) -> FigureFn:
        FIGURES[name] = fn
        FIGURE_TITLES[name] = title
        return fn
    return deco


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _short(text: str, n: int = 28) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _bar_panel(ax, labels: list[str], values: np.ndarray, lo: np.ndarray | None, hi: np.ndarray | None,
               title: str, show_labels: bool, marks: list[str] | None = None) -> None:
    y = np.arange(len(labels))
    vals = np.nan_to_num(values, nan=0.0)
    colors = [NEUTRAL if math.isnan(v) else (POS if v >= 0 else NEG) for v in values]
    ax.barh(y, vals, color=colors, height=0.7)
    if lo is not None and hi is not None:
        ok = ~(np.isnan(lo) | np.isnan(hi) | np.isnan(values))
        if ok.any():
            err = np.vstack([values[ok] - lo[ok], hi[ok] - values[ok]])
            ax.errorbar(values[ok], y[ok], xerr=np.clip(err, 0, None), fmt="none", ecolor=SIG, elinewidth=0.9,
                        capsize=2.5)
    for yi, v in zip(y, values):
        if math.isnan(v):
            ax.text(0.02, yi, "no pairs", va="center", ha="left", fontsize=7, color=NEUTRAL)
    if marks:
        for yi, m in zip(y, marks):
            if m:
                ax.text(1.02, yi, m, va="center", ha="right", fontsize=9, color=SIG, fontweight="bold")
    ax.axvline(0, color=SIG, linewidth=0.8)
    ax.set_xlim(-1.05, 1.05)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.set_yticks(y, labels)
    if not show_labels:
        ax.tick_params(labelleft=False)
    ax.set_title(_short(title, 40))
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)


def _grid(n: int, per_row: int = 4) -> tuple[int, int]:
    cols = min(n, per_row)
    return (n + cols - 1) // cols, cols


@register_figure("factor_scores", "Factor scores per judge (tau_14 with bootstrap CI)")
def fig_factor_scores(run: RunData):
    s, lo, hi = score_matrix(run, "score"), score_matrix(run, "ci_low"), score_matrix(run, "ci_high")
    if s.empty:
        return None
    labels = [factor_label(f) for f in s.index]
    rows, cols = _grid(len(s.columns))
    fig = _figure(2.3 * cols + 1.2, 0.24 * len(labels) * rows + 0.9 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols, sharey=True, squeeze=False)).ravel()
    for i, judge in enumerate(s.columns):
        _bar_panel(axes[i], labels, s[judge].to_numpy(), lo[judge].to_numpy() if judge in lo else None,
                   hi[judge].to_numpy() if judge in hi else None, judge, show_labels=i % cols == 0)
        axes[i].set_xlabel("tau_14")
    for ax in axes[len(s.columns):]:
        ax.set_visible(False)
    return fig


@register_figure("differences", "Judge minus human factor score (CI; * = significant after Holm)")
def fig_differences(run: RunData):
    d = differences(run)
    if d.empty:
        return None
    judges = list(dict.fromkeys(d["judge"]))
    factors = [f for f in run.factor_order if f in set(d["factor"])]
    factors += sorted(set(d["factor"]) - set(factors))
    labels = [factor_label(f) for f in factors]
    rows, cols = _grid(len(judges), 3)
    fig = _figure(2.6 * cols + 1.2, 0.24 * len(labels) * rows + 0.9 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols, sharey=True, squeeze=False)).ravel()
    for i, judge in enumerate(judges):
        sub = d[d["judge"] == judge].set_index("factor").reindex(factors)
        marks = ["*" if bool(v) else "" for v in sub["significant"].fillna(False)]
        _bar_panel(axes[i], labels, sub["diff"].to_numpy(float), sub["ci_low"].to_numpy(float),
                   sub["ci_high"].to_numpy(float), f"{judge} − human", show_labels=i % cols == 0, marks=marks)
        axes[i].set_xlim(-2.05, 2.05)
        axes[i].set_xlabel("difference")
    for ax in axes[len(judges):]:
        ax.set_visible(False)
    return fig


@register_figure("generation_vs_evaluation", "The same model as generator (x) and as evaluator (y)")
def fig_gen_eval(run: RunData):
    pairs = gen_eval_pairs(run)
    if not pairs:
        return None
    s = score_matrix(run)
    rows, cols = _grid(len(pairs), 3)
    fig = _figure(4.4 * cols, 4.0 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax, p in zip(axes, pairs):
        x, y = s[p.generation].to_numpy(), s[p.evaluation].to_numpy()
        ok = ~(np.isnan(x) | np.isnan(y))
        ax.plot([-1, 1], [-1, 1], color="#cccccc", linewidth=0.8)
        ax.axhline(0, color="#dddddd", linewidth=0.6)
        ax.axvline(0, color="#dddddd", linewidth=0.6)
        ax.scatter(x[ok], y[ok], s=14, color=POS)
        for f, xi, yi in zip(s.index[ok], x[ok], y[ok]):
            ax.annotate(factor_label(f), (xi, yi), textcoords="offset points", xytext=(3, 2), fontsize=7)
        ax.set_xlim(-1.05, 1.05)
        ax.set_ylim(-1.05, 1.05)
        ax.set_xlabel("generation tau_14")
        ax.set_ylabel("evaluation tau_14")
        ax.set_title(_short(p.label, 40))
    for ax in axes[len(pairs):]:
        ax.set_visible(False)
    return fig


@register_figure("evaluator_bias", "Position bias and flip rate of the evaluators")
def fig_bias(run: RunData):
    b = run.evaluator_bias
    cols = ["first_position_win_rate", "flip_rate", "tie_rate"]
    if b is None or b.empty or "judge" not in b.columns or not any(c in b.columns for c in cols):
        return None
    cols = [c for c in cols if c in b.columns]
    judges = [str(j) for j in b["judge"]]
    fig = _figure(6.0, 0.5 + 0.35 * len(judges) * len(cols))
    ax = fig.subplots()
    h = 0.8 / len(cols)
    palette = (POS, NEG, NEUTRAL)
    for k, c in enumerate(cols):
        vals = b[c].astype(float).to_numpy()
        ax.barh(np.arange(len(judges)) + k * h, np.nan_to_num(vals), height=h, color=palette[k],
                label=c.replace("_", " "))
    ax.axvline(0.5, color=SIG, linewidth=0.8, linestyle="--")
    ax.set_yticks(np.arange(len(judges)) + h * (len(cols) - 1) / 2)
    ax.set_yticklabels([_short(j, 32) for j in judges])
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.legend(loc="lower right", fontsize=7, frameon=False)
    ax.set_xlabel("share (dashed: 0.5, no position preference)")
    return fig


@register_figure("factor_correlation", "Spearman correlation of factor values over all outputs")
def fig_corr(run: RunData):
    c = factor_correlation(run)
    return None if c.empty else correlation_heatmap(c)


def correlation_heatmap(c: Any):
    """A factor x factor correlation matrix (a square DataFrame indexed by factor name) as an annotated
    heatmap (also the joint section's correlation figure)."""
    n = len(c)
    fig = _figure(1.6 + 0.42 * n, 1.0 + 0.38 * n)
    ax = fig.subplots()
    m = c.to_numpy(float)
    mesh = ax.pcolormesh(np.ma.masked_invalid(m), cmap="RdBu_r", vmin=-1, vmax=1, edgecolors="white", linewidth=0.5)
    for i in range(n):
        for j in range(n):
            v = m[i, j]
            ax.text(j + 0.5, i + 0.5, "–" if math.isnan(v) else f"{v:.2f}", ha="center", va="center", fontsize=6.5,
                    color="white" if not math.isnan(v) and abs(v) > 0.6 else SIG)
    labels = [factor_label(f) for f in c.index]
    ax.set_xticks(np.arange(n) + 0.5)
    ax.set_xticklabels(labels, rotation=45, ha="right")
    ax.set_yticks(np.arange(n) + 0.5)
    ax.set_yticklabels(labels)
    ax.set_xlim(0, n)
    ax.set_ylim(n, 0)
    ax.spines[:].set_visible(False)
    fig.colorbar(mesh, ax=ax, shrink=0.7)
    return fig


# -- output --------------------------------------------------------------------------------------
_STRIP = [
    (re.compile(r"<\?xml[^>]*\?>\s*"), ""),
    (re.compile(r"<!DOCTYPE[^>]*>\s*", re.S), ""),
    (re.compile(r"<metadata>.*?</metadata>\s*", re.S), ""),
    (re.compile(r'\s+xmlns(:\w+)?="[^"]*"'), ""),
]
_UNSAFE = re.compile(r"<\s*(script|foreignObject|iframe|object|embed|a)\b|<[^>]*\son\w+\s*=|=\s*[\"']\s*javascript:",
                     re.I)


def figure_svg(fig, name: str) -> str:
    """Inline-ready SVG of ``fig`` (deterministic for the same figure and ``name``)."""
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({**RC, "svg.hashsalt": f"profile-align-{name}"}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    svg = buf.getvalue()
    for pat, rep in _STRIP:
        svg = pat.sub(rep, svg)
    # ids unique across the figures of one page: prefix every id and every reference to one
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{name}-{m.group(1)}"', svg)
    svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{name}-{m.group(1)}"', svg)
    svg = re.sub(r'url\(#([^)]+)\)', lambda m: f'url(#{name}-{m.group(1)})', svg)
    svg = re.sub(r'<svg\b', f'<svg role="img" aria-label="{name}" class="figure"', svg, count=1)
    if _UNSAFE.search(svg):  # cannot happen with escaped text; refuse rather than embed active content
        raise ValueError(f"figure {name!r}: SVG contains active content")
    return svg.strip()


def save_png(fig, path: str | Path) -> Path:
    import matplotlib

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with matplotlib.rc_context(RC):
        fig.savefig(path, format="png", metadata={"Software": None})
    return path


def render_figures(run: RunData, errors: list[str] | None = None) -> dict[str, object]:
    """name -> matplotlib Figure for every figure the run has data for (in :data:`FIGURES` order).
    A figure that fails is left out and its error appended to ``errors``."""
    import matplotlib

    out = {}
    for name, fn in FIGURES.items():
        try:
            with matplotlib.rc_context({**RC, "svg.hashsalt": f"profile-align-{name}"}):
                fig = fn(run)
        except Exception as e:  # noqa: BLE001 - one bad figure must not lose the report
            if errors is None:
                raise
            errors.append(f"figure {name}: {type(e).__name__}: {e}")
            continue
        if fig is not None:
            out[name] = fig
    return out
