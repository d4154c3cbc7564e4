"""Benchmark of the vectorised factor-score path of ``profile_align.stats``.

Run::

    .venv/bin/python benchmarks/bench_tau.py                # 1,000,000 pairs x 13 factors
    .venv/bin/python benchmarks/bench_tau.py --pairs 200000 --factors 13 --examples 10000

What is timed (best of ``--repeat`` runs, wall clock):

* ours, ``pair_counts + tau_14``: counts and factor scores for all factors;
* ours, ``compute_factor_scores`` with ``n_boot=0`` and ``n_boot=200`` over ``--examples`` examples
  (example-level bootstrap);
* baseline (a): a naive per-pair Python loop, timed on a ``--naive-pairs`` subset and extrapolated
  linearly to the full size (the output says so);
* baseline (b): ``scipy.stats.kendalltau`` once per factor on the full (pref, fcmp[:, f]) vectors.
  Note: scipy's tau-b compares every pair *of pairs*, a different statistic; it is a timing
  reference for "one Kendall tau per factor", not a check of correctness (the tests do that).

The script also checks that the naive loop and the vectorised path agree on the subset.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable

import numpy as np
import scipy.stats

from profile_align.stats import GENERATION, compute_factor_scores, pair_counts, tau_14


def best_time(fn: Callable[[], object], repeat: int) -> float:
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def naive_scores(pref: np.ndarray, fcmp: np.ndarray) -> list[float]:
    """Per-pair Python loop, generation policy: (C - D) / (C + D + T)."""
    prefs = pref.tolist()
    out = []
    for column in fcmp.T.tolist():
        num = den = 0
        for p, f in zip(prefs, column):
            if f != f:  # NaN: missing
                continue
            num += p * f
            den += 1
        out.append(num / den if den else math.nan)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=1_000_000)
    ap.add_argument("--factors", type=int, default=13)
    ap.add_argument("--examples", type=int, default=10_000)
    ap.add_argument("--naive-pairs", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    rng = np.random.default_rng(args.seed)
    P, F = args.pairs, args.factors
    pref = rng.choice(np.array([-1, 1], dtype=np.int8), size=P)
    fcmp = rng.choice([-1.0, 0.0, 1.0], size=(P, F), p=[0.4, 0.2, 0.4])
    fcmp[:, 0] = np.where(rng.random(P) < 0.6, pref, fcmp[:, 0])
    fcmp[rng.random((P, F)) < 0.01] = np.nan  # 1% missing factor values
    example_ids = np.sort(rng.integers(0, args.examples, size=P))
    names = [f"factor_{j}" for j in range(F)]
    ok = ~np.isnan(fcmp)

    rows: list[tuple[str, float, str]] = []

    t_ours = best_time(lambda: tau_14(pair_counts(pref, fcmp), GENERATION), args.repeat)
    rows.append(("ours: pair_counts + tau_14", t_ours, "measured"))
    for n_boot in (0, 200):
        t = best_time(
            lambda: compute_factor_scores(pref, fcmp, names, example_ids, n_boot=n_boot, seed=0), args.repeat
        )
        rows.append((f"ours: compute_factor_scores n_boot={n_boot}, E={args.examples}", t, "measured"))

    n_sub = min(args.naive_pairs, P)
    t_sub = best_time(lambda: naive_scores(pref[:n_sub], fcmp[:n_sub]), 1)
    naive_full = t_sub * P / n_sub
    rows.append(("naive Python loop", naive_full, f"extrapolated from {n_sub:,} pairs ({t_sub:.3f} s)"))
    check = np.allclose(naive_scores(pref[:n_sub], fcmp[:n_sub]), tau_14(pair_counts(pref[:n_sub], fcmp[:n_sub])))

    def scipy_all() -> None:
        for j in range(F):
            scipy.stats.kendalltau(pref[ok[:, j]], fcmp[ok[:, j], j])

    t_scipy = best_time(scipy_all, 1)
    rows.append((f"scipy.stats.kendalltau x {F} factors", t_scipy, "measured (different statistic)"))

    print(f"factor scores for {P:,} pairs x {F} factors ({np.mean(~ok):.1%} missing), best of {args.repeat}")
    print(f"naive loop agrees with vectorised path on the subset: {check}\n")
    w = max(len(r[0]) for r in rows)
    print(f"{'method':<{w}}  {'wall s':>9}  {'vs ours':>9}  note")
    for name, t, note in rows:
        ratio = t / t_ours
        print(f"{name:<{w}}  {t:9.3f}  {ratio:8.1f}x  {note}")
    print("\n'vs ours' = time / time of pair_counts + tau_14 (baseline/ours for the baselines)")


if __name__ == "__main__":
    main()
