"""Benchmark of the joint model (``profile_align.stats.joint.fit_joint``), issue 16's speed target:
100,000 pairs x 13 factors with example-bootstrap CIs (B = 200) in under a minute on 2 cores.

Run::

    .venv/bin/python benchmarks/bench_joint.py
    .venv/bin/python benchmarks/bench_joint.py --pairs 20000 --factors 13 --examples 4000 --boot-refit exact

Simulated data: iid N(0, 1) factor values, known coefficients ``linspace(-0.5, 0.5, F)``, logistic
verdicts, pairs spread over ``--examples`` clusters. Printed: wall time of the clustered-SE fit and of the
bootstrap fit (both include the one-factor and length-controlled fits), and the share of true
coefficients inside their 95% CI.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from profile_align.stats.joint import fit_joint


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, default=100_000)
    ap.add_argument("--factors", type=int, default=13)
    ap.add_argument("--examples", type=int, default=20_000)
    ap.add_argument("--boot", type=int, default=200)
    ap.add_argument("--boot-refit", default="auto", choices=("auto", "exact", "one-step"))
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    va = rng.normal(size=(a.pairs, a.factors))
    vb = rng.normal(size=(a.pairs, a.factors))
    beta = np.linspace(-0.5, 0.5, a.factors)
    pref = np.where(rng.random(a.pairs) < 1 / (1 + np.exp(-(va - vb) @ beta)), 1, -1)
    ex = rng.integers(0, a.examples, a.pairs)
    names = ["length"] + [f"f{i}" for i in range(1, a.factors)]
    truth = beta * np.std(va - vb, axis=0, ddof=1)
    print(f"{a.pairs:,} pairs x {a.factors} factors, {a.examples:,} examples, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.1f}")
    for inference in ("cluster", "bootstrap"):
        t = time.perf_counter()
        fit = fit_joint(pref, va, vb, names, ex, inference=inference, n_boot=a.boot, boot_refit=a.boot_refit)
        dt = time.perf_counter() - t
        cover = np.mean((fit.ci_low < truth) & (truth < fit.ci_high))
        what = "clustered SEs" if inference == "cluster" else f"bootstrap B={a.boot} ({a.boot_refit})"
        print(f"  {what:<32} {dt:7.1f} s   true coefficients inside the 95% CI: {cover:.0%}")


if __name__ == "__main__":
    main()
