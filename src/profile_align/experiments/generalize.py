"""Generalizability of scored generation (PROFILE section 6, the paper's Table 9): are the outputs a
model writes when asked for a score-k text like the ones it writes when simply asked for a text?

Every factor is min-max scaled over all of the judge's outputs (direct and score 1..k together); the
cosine similarity of the mean scaled factor vector of the direct outputs with that of the score-k outputs
is reported per k. Direct outputs come from the run (``generation.direct: true``) or are generated here
with the run's judge model and their factors extracted with the run's factor set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data.dataset import Dataset
from ..data.model import Output
from ..rundir import RunDir
from ..stats.alignment import minmax_scale
from .common import experiment_client, write_experiment
from .runinfo import factor_client, find_judge, judge_config, model_of, run_task, sampling

__all__ = ["GeneralizeResult", "run_generalize", "similarity_by_level"]


@dataclass
class GeneralizeResult:
    summary: dict[str, Any]
    similarity: pd.DataFrame  # level, cosine, n_outputs

    def to_frame(self) -> pd.DataFrame:
        return self.similarity


def similarity_by_level(values: pd.DataFrame, levels: pd.Series, factors: list[str]) -> pd.DataFrame:
    """``values``: outputs x factors; ``levels``: per output "direct" or the target score.
    Scale each factor over all rows, then cosine(mean(direct), mean(level k)) for every k."""
    x = minmax_scale(values[factors].to_numpy(dtype=float))
    lv = levels.astype(str).to_numpy()
    direct = x[lv == "direct"]
    if len(direct) == 0:
        raise ValueError("no direct outputs to compare with")
    with np.errstate(invalid="ignore"):
        md = np.nan_to_num(np.nanmean(direct, axis=0))
    rows = []
    for k in sorted({v for v in lv if v != "direct"}, key=lambda s: (len(s), s)):
        g = x[lv == k]
        mk = np.nan_to_num(np.nanmean(g, axis=0))
        den = np.linalg.norm(md) * np.linalg.norm(mk)
        rows.append({"level": k, "cosine": float(md @ mk / den) if den > 0 else float("nan"), "n_outputs": len(g)})
    return pd.DataFrame(rows)


def run_generalize(run_dir: str | Path | RunDir, *, judge: str | None = None, model: Any = None,
                   factors: list[str] | None = None, cache_mode: str = "use", progress: bool = True) -> GeneralizeResult:
    rd = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    entry = find_judge(rd, "generation", judge)
    jname = entry["name"]
    label = jname.rsplit(":", 1)[0]
    ds = rd.read_dataset()
    table = rd.read_factors()
    names = [f for f in (factors or table.factor_names) if f in table.factor_names]
    scored = [o for o in ds.outputs if o.producer == jname and "target_score" in o.metadata]
    if not scored:
        raise ValueError(f"{rd.path}: judge {jname!r} has no scored outputs")
    direct = [o for o in ds.outputs if o.producer == f"{label}:direct"]
    generated_here = False
    dvals = table.values.reindex([o.id for o in direct])[names] if direct else None
    if not direct:
        direct, dvals = _generate_direct(rd, label, jname, model, ds, scored, names, cache_mode, progress)
        generated_here = True
    svals = table.values.reindex([o.id for o in scored])[names]
    values = pd.concat([dvals, svals])
    levels = pd.Series(["direct"] * len(direct) + [str(o.metadata["target_score"]) for o in scored])
    usable = [f for f in names if values[f].notna().any()]
    sim = similarity_by_level(values.reset_index(drop=True), levels, usable)
    summary = {"judge": jname, "factors": usable, "n_direct": len(direct), "n_scored": len(scored),
               "direct_generated_here": generated_here,
               "similarity": {r.level: r.cosine for r in sim.itertuples()},
               "missing_values": {f: int(values[f].isna().sum()) for f in usable}}
    write_experiment(rd, "generalize", summary, {"similarity": sim})
    return GeneralizeResult(summary, sim)


def _generate_direct(rd: RunDir, label: str, jname: str, model: Any, ds: Dataset, scored: list[Output],
                     names: list[str], cache_mode: str, progress: bool) -> tuple[list[Output], pd.DataFrame]:
    from ..backends import RequestFailed
    from ..factors import extract_factors
    from ..judges import GenerationJudge
    from ..judges.common import parsed_json

    model_str = model if model is not None else model_of(rd, jname)
    client = experiment_client(model_str, rd, cache_mode=cache_mode, progress=progress)
    jc = judge_config(rd, jname)  # the run's own judge config (defaults filled), from the typed manifest
    gj = GenerationJudge(client, label=label, task=run_task(rd), max_words=jc.generation.max_words if jc else None,
                         **sampling(rd))
    ex_map = ds.example_map()
    ex_ids = sorted({o.example_id for o in scored})
    resps = client.run_all([gj.direct_request(ex_map[e]) for e in ex_ids], desc="generalize: direct generation")
    outs = []
    for e, r in zip(ex_ids, resps):
        obj = None if isinstance(r, RequestFailed) else parsed_json(client, r)
        t = obj.get("text") if isinstance(obj, dict) else None
        if isinstance(t, str) and t.strip():
            outs.append(Output(f"{label}:direct::{e}", e, t.strip(), f"{label}:direct", {"direct": True}))
    if not outs:
        raise ValueError("direct generation produced no usable text")
    sub = Dataset("generalize", ds.task, [ex_map[e] for e in ex_ids], outs, [], [])
    fclient = factor_client(rd, names, {str(model_str): client}, cache_mode=cache_mode, progress=progress)
    table = extract_factors(sub, names, client=fclient, progress=progress).table
    vals = table.values.reindex([o.id for o in outs])
    for f in names:
        if f not in vals.columns:
            vals[f] = np.nan
    return outs, vals[names]
