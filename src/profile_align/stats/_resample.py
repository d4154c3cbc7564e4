"""Cluster (example-level) resampling helpers shared by scores, difference tests and agreement.

A bootstrap replicate draws ``E`` examples with replacement out of ``E``; it is represented by a
weight vector ``w`` (how often each example was drawn, ``sum(w) == E``). Any additive per-example
statistic ``X`` of shape ``(E, K)`` then resamples as ``w @ X``. Replicates are generated in chunks
so memory stays bounded (``chunk * E`` weights at a time) and the result does not depend on
anything but ``seed``, ``n_boot`` and ``E``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

__all__ = ["bootstrap_weights", "resample_sums", "swap_masks", "percentile_interval", "CHUNK_ELEMENTS"]

#: Upper bound on the number of weights materialised at once.
CHUNK_ELEMENTS = 4_000_000


def _chunk_sizes(n_rep: int, n_clusters: int) -> Iterator[int]:
    step = max(1, CHUNK_ELEMENTS // max(n_clusters, 1))
    for start in range(0, n_rep, step):
        yield min(step, n_rep - start)


def bootstrap_weights(rng: np.random.Generator, n_boot: int, n_clusters: int) -> Iterator[NDArray[np.float64]]:
    """Yield chunks ``(b, E)`` of multinomial(E, uniform) resampling weights, ``n_boot`` rows in all."""
    for b in _chunk_sizes(n_boot, n_clusters):
        if n_clusters == 0:
            yield np.zeros((b, 0))
            continue
        idx = rng.integers(0, n_clusters, size=(b, n_clusters))
        idx += (np.arange(b) * n_clusters)[:, None]
        yield np.bincount(idx.ravel(), minlength=b * n_clusters).reshape(b, n_clusters).astype(np.float64)


def resample_sums(rng: np.random.Generator, per_cluster: NDArray, n_boot: int) -> NDArray[np.int64]:
    """Cluster-bootstrap the column sums of integer ``per_cluster`` ``(E, K)``: returns ``(n_boot, K)``.

    Exact: float64 matrix products of integers are exact below 2**53.
    """
    x = np.asarray(per_cluster, dtype=np.float64)
    out = [w @ x for w in bootstrap_weights(rng, n_boot, x.shape[0])]
    if not out:
        return np.zeros((0, x.shape[1]), dtype=np.int64)
    return np.rint(np.concatenate(out, axis=0)).astype(np.int64)


def swap_masks(rng: np.random.Generator, n_perm: int, n_clusters: int) -> Iterator[NDArray[np.float64]]:
    """Yield chunks ``(b, E)`` of independent fair 0/1 swap indicators (cluster permutation)."""
    for b in _chunk_sizes(n_perm, n_clusters):
        yield rng.integers(0, 2, size=(b, n_clusters)).astype(np.float64)


def percentile_interval(replicates: NDArray, ci: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Percentile interval per column of ``replicates`` ``(B, K)``, ignoring NaN replicates.

    Columns without any finite replicate get NaN bounds.
    """
    if not 0.0 < ci < 1.0:
        raise ValueError(f"ci must be in (0, 1), got {ci}")
    reps = np.asarray(replicates, dtype=np.float64)
    alpha = (1.0 - ci) / 2.0
    if reps.shape[0] == 0:
        nan = np.full(reps.shape[1:], np.nan)
        return nan, nan.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        lo, hi = np.nanpercentile(reps, [100 * alpha, 100 * (1 - alpha)], axis=0)
    return lo, hi
