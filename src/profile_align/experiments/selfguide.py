"""Self-guidance training data (the later revision of PROFILE: "fine-tuning with self-guidance").

A model aligns better with humans as an evaluator than as a generator; its own verdicts can teach its
generator. From a run: the model's evaluator (optionally with one factor-guidance sentence, as in
``profile-align guide``) judges the pairs of the generator's outputs (both orders, ties when the two
orders disagree); each decided pair becomes a preference record ``prompt`` / ``chosen`` / ``rejected`` for
DPO/ORPO (TRL, Hugging Face ``datasets``), with the factor values, the verdict and the justification as
metadata. The prompt is the task prompt *without* a score instruction (``prompts/logprob_context.txt``).

Balancing on a factor (default ``length``): ``matched`` keeps pairs whose two texts differ by at most
``tolerance`` (relative) in that factor; ``equal-wins`` subsamples (seeded) so the chosen text has the
higher value as often as the lower. ``weight="balance"`` keeps every pair and gives each direction of the
factor the same total weight instead. The factor scores (tau_14, generation policy: chosen always
preferred) of the judged and of the exported pairs show what the data will teach.

Files: ``RUN_DIR/selfguide/pairs.jsonl`` and ``pairs.parquet`` (the dataset), ``judged.{parquet,csv}``
(every judged pair, ties and dropped ones included), ``factor_scores.{parquet,csv}``, ``summary.json``.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..rundir import RunDir
from .common import experiment_client, model_name
from .logprob import context_messages
from .runinfo import find_judge, model_of, run_task, sampling

__all__ = ["SelfGuideResult", "run_selfguide", "balance_pairs", "residual_scores", "BALANCE", "WEIGHTS", "FORMATS",
           "FOLDER"]

FOLDER = "selfguide"
BALANCE = ("none", "matched", "equal-wins")
WEIGHTS = ("none", "balance")
FORMATS = ("conversational", "standard")


@dataclass
class SelfGuideResult:
    summary: dict[str, Any]
    pairs: pd.DataFrame  # the exported preference records
    judged: pd.DataFrame  # every judged pair
    factor_scores: pd.DataFrame  # set (judged | exported) x factor

    @property
    def files(self) -> dict[str, str]:
        return dict(self.summary.get("files", {}))


def _direction(chosen: np.ndarray, rejected: np.ndarray) -> np.ndarray:
    """+1 where the chosen text has the higher value, -1 the lower, 0 equal, NaN unknown."""
    d = np.sign(chosen - rejected)
    d[~(np.isfinite(chosen) & np.isfinite(rejected))] = np.nan
    return d


def balance_pairs(chosen: np.ndarray, rejected: np.ndarray, *, how: str = "none", tolerance: float = 0.1,
                  seed: int = 0) -> np.ndarray:
    """Boolean mask of the pairs to keep, from the balance factor's values of the chosen and rejected texts.
    Pairs with an unknown value are dropped by ``matched`` and ``equal-wins``."""
    if how not in BALANCE:
        raise ValueError(f"balance must be one of {BALANCE}, not {how!r}")
    c, r = np.asarray(chosen, dtype=float), np.asarray(rejected, dtype=float)
    if how == "none":
        return np.ones(len(c), dtype=bool)
    known = np.isfinite(c) & np.isfinite(r)
    if how == "matched":
        scale = np.maximum(np.abs(c), np.abs(r))
        with np.errstate(invalid="ignore", divide="ignore"):
            rel = np.where(scale > 0, np.abs(c - r) / scale, 0.0)
        return known & (rel <= tolerance)
    d = _direction(c, r)
    up, down = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    keep = known & (d == 0)
    n = min(len(up), len(down))
    rng = random.Random(seed)
    for group in (up, down):
        keep[sorted(rng.sample(list(group), n))] = True
    return keep


def balance_weights(chosen: np.ndarray, rejected: np.ndarray) -> np.ndarray:
    """Weights giving each direction of the factor (chosen higher / lower / equal / unknown) the same total
    weight, normalised to mean 1."""
    d = _direction(np.asarray(chosen, dtype=float), np.asarray(rejected, dtype=float))
    key = np.where(np.isnan(d), 2, d).astype(int)
    groups, counts = np.unique(key, return_counts=True)
    per = {g: 1.0 / c for g, c in zip(groups, counts)}
    w = np.array([per[k] for k in key])
    return w * len(w) / w.sum() if len(w) else w


def residual_scores(dataset: Any, table: Any, pair_ids: list[str], factors: list[str], *, label: str,
                    weights: np.ndarray | None = None, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """Factor scores (tau_14, generation policy) of pairs in which the chosen text (``a``) is preferred:
    what a model trained on them is pushed towards. ``weighted_score``: the same with pair weights."""
    from ..data.dataset import Dataset
    from ..data.model import Preference, Verdict
    from ..scoring import factor_scores
    from ..stats import compare_values

    pm = dataset.pair_map()
    pairs = [pm[p] for p in pair_ids]
    sub = Dataset(f"{label}", dataset.task, dataset.examples, dataset.outputs, pairs,
                  [Preference(p.id, label, Verdict.A) for p in pairs])
    res = factor_scores(sub, table, judge=label, factors=factors, policy="generation", n_boot=n_boot, seed=seed)
    df = res.to_frame()
    df.insert(0, "set", label)
    if weights is not None and len(pairs):
        fc = compare_values(table.lookup([p.a for p in pairs], factors), table.lookup([p.b for p in pairs], factors))
        ok = np.isfinite(fc)
        num = np.nansum(fc * weights[:, None], axis=0)
        den = (ok * weights[:, None]).sum(axis=0)
        ws = dict(zip(factors, np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)))
        df["weighted_score"] = df["factor"].map(ws)
    return df


def _guide_mis(rd: RunDir, seed: int) -> str:
    """GuideMis of the guidance experiment: the factor the run's evaluation judge weights most out of line
    with the human (per-factor difference test, Holm-adjusted)."""
    from ..stats import compare_judges
    from .guide_stats import choose_factors

    jname = find_judge(rd, "evaluation")["name"]
    scores = rd.read_scores()
    if "human" not in scores or jname not in scores:
        raise ValueError(f"--guidance-factor auto needs factor scores of 'human' and {jname!r}; have {sorted(scores)}")
    choice = choose_factors(compare_judges(scores[jname], scores["human"], seed=seed).to_frame(), seed=seed)
    if choice.mis is None:
        raise ValueError(f"cannot choose a guidance factor: {choice.note}")
    return str(choice.mis)


def _messages_text(msgs: list[dict[str, str]]) -> str:
    return "\n\n".join(m["content"] for m in msgs)


def run_selfguide(run_dir: str | Path | RunDir, *, generator: str | None = None, evaluator: Any = None,
                  guidance_factor: str | None = None, guidance: Any = None, balance: str = "none",
                  balance_factor: str = "length", tolerance: float = 0.1, weight: str = "none",
                  fmt: str = "conversational", limit: int | None = None, seed: int = 0, n_boot: int = 1000,
                  out_dir: str | Path | None = None, cache_mode: str = "use", progress: bool = True) -> SelfGuideResult:
    """Judge the generator's output pairs with the model's own evaluator and export preference pairs.

    ``generator``: the run's generation judge (default: the first); ``evaluator``: a model string or
    Client (default: that generator's model, i.e. the model judges itself); ``guidance_factor``: add the
    guidance sentence of this factor (``prompts/guidance.yaml`` or ``guidance``) to the evaluator's prompt
    (``auto``: GuideMis, the factor the run's evaluation judge weights most out of line with the human);
    ``limit``: the first N examples (sorted ids); ``out_dir``: where the dataset files go (default
    ``RUN_DIR/selfguide``)."""
    from ..judges import EvaluationJudge
    from ..judges.common import parsed_json
    from .guide_stats import guidance_sentences

    for name, value, allowed in (("balance", balance, BALANCE), ("weight", weight, WEIGHTS), ("format", fmt, FORMATS)):
        if value not in allowed:
            raise ValueError(f"{name} must be one of {allowed}, not {value!r}")
    rd = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    gen = find_judge(rd, "generation", generator)
    gname = gen["name"]
    ds = rd.read_dataset()
    task = run_task(rd)
    table = rd.read_factors()
    factors = list(table.factor_names)
    if balance_factor not in factors:
        raise ValueError(f"balance factor {balance_factor!r} is not in the run's factor table; it has {factors}")
    sentence = None
    if guidance_factor == "auto":
        guidance_factor = _guide_mis(rd, seed)
    if guidance_factor:
        sentences = guidance_sentences(guidance)
        if guidance_factor not in sentences:
            raise ValueError(f"no guidance sentence for factor {guidance_factor!r}; known: {sorted(sentences)}")
        sentence = sentences[guidance_factor]
    examples = ds.example_map()
    keep_ex = set(sorted(examples)[:limit]) if limit is not None else set(examples)
    pm = ds.pair_map()
    pairs = [pm[p.pair_id] for p in ds.preferences_of(gname) if pm[p.pair_id].example_id in keep_ex]
    if not pairs:
        raise ValueError(f"{rd.path}: generation judge {gname!r} has no pairs to judge")
    ev_model = evaluator if evaluator is not None else model_of(rd, gname)
    client = experiment_client(ev_model, rd, cache_mode=cache_mode, progress=progress)
    label = f"selfguide-{guidance_factor}" if guidance_factor else "selfguide"
    ej = EvaluationJudge(client, label=label, task=task, both_orders=True, combine="tie", guidance=sentence,
                         justification_max_chars=300, name=f"{label}:evaluation", **sampling(rd))
    res = ej.run(ds.examples, ds.outputs, pairs)
    verdicts = {p.pair_id: p for p in res.preferences}
    outs = ds.output_map()
    # the justifications: the same requests again, answered by the cache (also after a --refresh, which
    # has just rewritten them: read them back instead of asking a third time)
    if client.cache.mode == "refresh":
        client.cache.mode = "use"
    decided = [p for p in pairs if p.id in verdicts and int(verdicts[p.id].verdict) != 0]
    just_reqs = [ej.request(examples[p.example_id], outs[p.a], outs[p.b]) for p in decided]
    just = {}
    for p, r in zip(decided, client.run_all(just_reqs, desc="self-guidance: justifications") if decided else []):
        obj = parsed_json(client, r)
        j = obj.get("justification") if isinstance(obj, dict) else None
        just[p.id] = j.strip() if isinstance(j, str) else None
    msgs_of = {eid: context_messages(rd, gname, examples[eid], task) for eid in {p.example_id for p in pairs}}
    judged_rows, chosen_ids, rejected_ids, records = [], [], [], []
    for p in pairs:
        pref = verdicts.get(p.id)
        v = None if pref is None else int(pref.verdict)
        judged_rows.append({"pair_id": p.id, "example_id": p.example_id, "a": p.a, "b": p.b,
                            "verdict": {None: None, 1: "a", -1: "b", 0: "tie"}[v],
                            "ab": None if pref is None else pref.metadata.get("ab"),
                            "ba": None if pref is None else pref.metadata.get("ba")})
        if v in (1, -1):
            c, r = (p.a, p.b) if v == 1 else (p.b, p.a)
            chosen_ids.append(c)
            rejected_ids.append(r)
            records.append((p, c, r, "a" if v == 1 else "b"))
    judged = pd.DataFrame(judged_rows)
    if not records:
        raise ValueError(f"the evaluator decided none of the {len(pairs)} pairs (all ties or invalid)")
    vc = table.lookup(chosen_ids, factors)
    vr = table.lookup(rejected_ids, factors)
    bi = factors.index(balance_factor)
    keep = balance_pairs(vc[:, bi], vr[:, bi], how=balance, tolerance=tolerance, seed=seed)
    idx = np.flatnonzero(keep)
    if not len(idx):
        raise ValueError(f"balancing ({balance} on {balance_factor}) left none of the {len(records)} decided pairs")
    weights = balance_weights(vc[idx, bi], vr[idx, bi]) if weight == "balance" else np.ones(len(idx))
    rows = []
    for w, i in zip(weights, idx):
        p, c, r, side = records[i]
        msgs = msgs_of[p.example_id]
        if fmt == "conversational":
            row: dict[str, Any] = {"prompt": [dict(m) for m in msgs],
                                   "chosen": [{"role": "assistant", "content": outs[c].text}],
                                   "rejected": [{"role": "assistant", "content": outs[r].text}]}
        else:
            row = {"prompt": _messages_text(msgs), "chosen": outs[c].text, "rejected": outs[r].text}
        row.update({"pair_id": p.id, "example_id": p.example_id, "chosen_id": c, "rejected_id": r,
                    "chosen_target_score": outs[c].metadata.get("target_score"),
                    "rejected_target_score": outs[r].metadata.get("target_score"),
                    "verdict": side, "justification": just.get(p.id), "evaluator": model_name(client),
                    "guidance_factor": guidance_factor, "weight": float(w)})
        for j, f in enumerate(factors):
            row[f"chosen_{f}"] = None if not np.isfinite(vc[i, j]) else float(vc[i, j])
            row[f"rejected_{f}"] = None if not np.isfinite(vr[i, j]) else float(vr[i, j])
        rows.append(row)
    exported = pd.DataFrame(rows)
    # residual factor scores: a = chosen in both sets
    from ..data.model import Pair

    ds_cr = ds.__class__(ds.name, ds.task, ds.examples, ds.outputs,
                         [Pair(f"sg::{k}", records[k][0].example_id, records[k][1], records[k][2])
                          for k in range(len(records))], [])
    judged_scores = residual_scores(ds_cr, table, [f"sg::{k}" for k in range(len(records))], factors,
                                    label="judged", n_boot=n_boot, seed=seed)
    exported_scores = residual_scores(ds_cr, table, [f"sg::{k}" for k in idx], factors, label="exported",
                                      weights=weights if weight != "none" else None, n_boot=n_boot, seed=seed)
    scores = pd.concat([judged_scores, exported_scores], ignore_index=True)
    d_all = _direction(vc[:, bi], vr[:, bi])
    d_exp = d_all[idx]

    def dirs(d: np.ndarray) -> dict[str, int]:
        return {"chosen_higher": int((d == 1).sum()), "chosen_lower": int((d == -1).sum()),
                "equal": int((d == 0).sum()), "unknown": int(np.isnan(d).sum())}

    folder = Path(out_dir) if out_dir is not None else rd.path / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    jsonl, parquet = folder / "pairs.jsonl", folder / "pairs.parquet"
    with jsonl.open("w", encoding="utf-8") as fh:
        for rec in rows:
            fh.write(json.dumps(rec, ensure_ascii=False, default=_json_default) + "\n")
    exported.to_parquet(parquet, index=False)
    rd.write_table(f"{FOLDER}/judged", judged)
    rd.write_table(f"{FOLDER}/factor_scores", scores)
    n_tie = sum(1 for r in judged_rows if r["verdict"] == "tie")
    summary = {
        "generator": gname, "evaluator": model_name(client), "task": task, "format": fmt,
        "guidance_factor": guidance_factor, "guidance_sentence": sentence, "balance": balance,
        "balance_factor": balance_factor, "tolerance": tolerance if balance == "matched" else None,
        "weight": weight, "seed": seed, "limit": limit,
        "n_pairs_judged": len(pairs), "n_ties": n_tie, "n_no_verdict": len(pairs) - len(verdicts),
        "n_decided": len(records), "n_exported": int(len(idx)), "n_dropped_by_balance": int(len(records) - len(idx)),
        "direction_judged": dirs(d_all), "direction_exported": dirs(d_exp),
        "files": {"jsonl": str(jsonl), "parquet": str(parquet)},
        "evaluator_failures": {k: dict(v) for k, v in res.failures.counts.items()},
        "usage": client.accounting.to_dict(),
    }
    rd.write_json(f"{FOLDER}/summary.json", summary)
    return SelfGuideResult(summary, exported, judged, scores)


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return None if not np.isfinite(o) else float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
