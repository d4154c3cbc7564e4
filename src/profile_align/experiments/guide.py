"""Factor guidance for an evaluator (PROFILE section 6): does one sentence about the factor the model
weights out of line with humans (GuideMis) improve its agreement with humans more than a sentence about
a random factor (GuideRand)?

From a finished run: the ranks of the evaluator's and the human's factor scores pick GuideMis (the
factor the model ranks high and the humans rank low, the paper's Appendix E.1) and the per-factor
difference test picks GuideRand's pool (:mod:`.guide_stats`); the same N human-judged pairs are re-judged
with no guidance, GuideRand and GuideMis; agreement with the human verdict is reported for each with a
cluster-bootstrap CI of the change, and GuideMis vs no guidance is tested with McNemar's exact test.
Only pairs that got a valid verdict in all three conditions are compared (the rest are counted).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..rundir import RunDir
from ..stats import compare_judges
from ..stats.alignment import wilson_interval
from .common import experiment_client, model_name, write_experiment
from .guide_stats import choose_factors, guidance_sentences, mcnemar, paired_agreement_diff
from .runinfo import find_judge, model_of, run_task, sampling

__all__ = ["GuideResult", "run_guide"]

CONDITIONS = ("none", "rand", "mis")


@dataclass
class GuideResult:
    summary: dict[str, Any]
    conditions: pd.DataFrame
    per_pair: pd.DataFrame
    differences: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.conditions


def run_guide(run_dir: str | Path | RunDir, *, judge: str | None = None, model: Any = None, n: int = 200,
              seed: int = 0, guidance: Any = None, adjusted: bool = True, n_boot: int = 2000,
              top: int | None = None, cache_mode: str = "use", progress: bool = True) -> GuideResult:
    from ..judges import EvaluationJudge

    rd = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    entry = find_judge(rd, "evaluation", judge)
    jname = entry["name"]
    scores = rd.read_scores()
    if "human" not in scores or jname not in scores:
        raise ValueError(f"{rd.path}: needs factor scores of 'human' and {jname!r}; have {sorted(scores)}")
    diff = compare_judges(scores[jname], scores["human"], n_boot=n_boot, seed=seed).to_frame()
    choice = choose_factors(diff, seed=seed, adjusted=adjusted, top=top)
    if choice.mis is None:
        raise ValueError(f"cannot choose a guidance factor: {choice.note}")
    sentences = guidance_sentences(guidance)
    missing = [f for f in (choice.mis, choice.rand) if f and f not in sentences]
    if missing:
        raise ValueError(f"no guidance sentence for factor(s) {missing}; give them with --guidance FILE")

    ds = rd.read_dataset()
    human = {p.pair_id: int(p.verdict) for p in ds.preferences if p.judge == "human"}
    pair_map = ds.pair_map()
    ids = sorted(human)
    ids = sorted(random.Random(seed).sample(ids, min(n, len(ids))))
    pairs = [pair_map[i] for i in ids]
    model_str = model if model is not None else model_of(rd, jname)
    client = experiment_client(model_str, rd, cache_mode=cache_mode, progress=progress)
    cfg_eval: dict[str, Any] = next((j.get("evaluation", {}) for j in rd.read_manifest().get("config", {}).get("judges", [])
                     if (j.get("name") or j.get("model")) == jname.rsplit(":", 1)[0]), {}) or {}
    samp = sampling(rd)
    label = jname.rsplit(":", 1)[0]
    verdicts: dict[str, dict[str, int]] = {}
    answers = []
    factors = {"none": None, "rand": choice.rand, "mis": choice.mis}
    for cond in CONDITIONS:
        if cond == "rand" and choice.rand is None:
            continue
        sentence = sentences[fac] if (fac := factors[cond]) else None
        ej = EvaluationJudge(client, label=label, task=run_task(rd), both_orders=cfg_eval.get("both_orders", True),
                             combine=cfg_eval.get("combine", "tie"), guidance=sentence,
                             justification_max_chars=cfg_eval.get("justification_max_chars", 300),
                             name=f"{label}:guide-{cond}", **samp)
        res = ej.run(ds.examples, ds.outputs, pairs)
        verdicts[cond] = {p.pair_id: int(p.verdict) for p in res.preferences}
        a = res.answers.copy()
        a["stage"] = "guide"
        answers.append(a)
    conds = [c for c in CONDITIONS if c in verdicts]
    common = [i for i in ids if all(i in verdicts[c] for c in conds)]
    ex_ids = np.array([pair_map[i].example_id for i in common], dtype=object)
    right = {c: np.array([verdicts[c][i] == human[i] for i in common], bool) for c in conds}
    rows = []
    for c in conds:
        k = int(right[c].sum())
        lo, hi = wilson_interval(k, len(common))
        change = paired_agreement_diff(right["none"], right[c], ex_ids, n_boot=n_boot, seed=seed) if c != "none" else None
        rows.append({"condition": c, "factor": factors[c], "sentence": sentences[fac] if (fac := factors[c]) else None,
                     "agreement": k / len(common) if common else float("nan"), "ci_low": lo, "ci_high": hi,
                     "n_pairs": len(common),
                     "change_vs_none": None if change is None else change["diff"],
                     "change_ci_low": None if change is None else change["ci_low"],
                     "change_ci_high": None if change is None else change["ci_high"]})
    conditions = pd.DataFrame(rows)
    per_pair = pd.DataFrame({"pair_id": common, "example_id": ex_ids, "human": [human[i] for i in common],
                             **{c: [verdicts[c][i] for i in common] for c in conds}})
    test = mcnemar(right["none"], right["mis"]) if common else {}
    summary = {
        "judge": jname, "model": model_name(model_str), "n_requested": n, "n_pairs": len(common),
        "n_pairs_dropped": len(ids) - len(common), "seed": seed,
        "guide_mis": {"factor": choice.mis, "rank_model": choice.mis_model_rank, "rank_human": choice.mis_human_rank,
                      "rule": "among the model's top-ranked factors, the largest human rank - model rank",
                      "diff_model_minus_human": choice.mis_diff, "significant": choice.mis_significant,
                      "sentence": sentences[choice.mis]},
        "guide_rand": {"factor": choice.rand, "pool": list(choice.candidates_rand),
                       "sentence": sentences[choice.rand] if choice.rand else None},
        "note": choice.note, "holm_adjusted_choice": adjusted,
        "agreement": {r["condition"]: r["agreement"] for r in rows},
        "mcnemar_mis_vs_none": test,
    }
    write_experiment(rd, "guide", summary, {"conditions": conditions, "per_pair": per_pair, "differences": diff,
                                            "ranks": choice.ranks})
    if answers:
        rd.replace_answers("guide", pd.concat(answers, ignore_index=True))
    return GuideResult(summary, conditions, per_pair, diff)
