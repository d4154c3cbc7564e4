"""A complete run directory built without any model, for the report tests and the docs screenshot.

Shipped SummEval (4 documents) + rule factors + fake LLM-factor columns (fixed RNG) + two fake model
judges: ``fake:evaluation`` prefers the longer text (a tie when the lengths differ by <= 3 words) on the
human's pairs, and ``fake:generation`` writes 5 "graded" outputs per document (the first k sentences of
the article for target score k; higher score preferred). Factor scores, alignment, agreement, differences,
evaluator bias come from the pipeline's table assembly (:func:`profile_align.pipeline.analyse.assemble_tables`);
usage, diagnostics, a validation table and two experiment folders are written with
:class:`profile_align.rundir.RunDir` following docs/run-directory.md.

``python tests/report/fixture_run.py OUT_DIR [--xss] [--minimal]`` writes one to OUT_DIR.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

import profile_align as pa
from profile_align.data.model import Output, Pair, Preference, Verdict
from profile_align.explain import explain
from profile_align.judges import JudgeKind, JudgeResult
from profile_align.pipeline.analyse import assemble_tables, score_judges
from profile_align.pipeline.config import StatsConfig
from profile_align.rundir import ANSWER_COLUMNS, TABLES, RunDir, config_hash
from profile_align.explain import write_analysis as write_joint_analysis

__all__ = ["build_fixture_run", "XSS_SCRIPT", "XSS_IMG"]

XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = '"><img src=x onerror=alert(1)>'

LLM_FACTORS = ("intent_alignment", "formality_alignment", "n_facts", "source_coverage", "coherence",
               "off_focus", "hallucination", "fluency")
EVAL = "fake:evaluation"
GEN = "fake:generation"
N_BOOT = 200


def _words(text: str) -> int:
    return len(re.sub(r"[^\w\s]", "", text).split())


def _generated(ds: pa.Dataset) -> tuple[list[Output], list[Pair], list[Preference]]:
    outs, pairs, prefs = [], [], []
    for ex in sorted(ds.examples, key=lambda e: e.id):
        sents = [s.strip() + " ." for s in ex.input.split(" . ") if s.strip()]
        ids = []
        for k in range(1, 6):
            oid = f"{ex.id}::gen{k}"
            outs.append(Output(oid, ex.id, " ".join(sents[:k]), producer=GEN, metadata={"target_score": k}))
            ids.append(oid)
        for i, j in itertools.combinations(range(5), 2):
            pid = f"{ex.id}::gen{i + 1}~gen{j + 1}"
            pairs.append(Pair(pid, ex.id, ids[j], ids[i]))  # A = the higher-targeted output
            prefs.append(Preference(pid, GEN, Verdict.A))
    return outs, pairs, prefs


def _fake_llm_columns(table: pa.FactorTable, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = len(table.values)
    length = table.values["length"].to_numpy(float)
    cols = {
        "intent_alignment": rng.choice([0.0, 0.5, 1.0], size=n, p=[0.2, 0.3, 0.5]),
        "formality_alignment": rng.choice([0.0, 0.5, 1.0], size=n, p=[0.1, 0.3, 0.6]),
        "n_facts": np.maximum(1, np.round(length / 12 + rng.normal(0, 1, n))),
        "source_coverage": np.clip(length / 120 + rng.normal(0, 0.08, n), 0, 1).round(3),
        "coherence": rng.uniform(0.3, 1.0, n).round(3),
        "off_focus": rng.choice([0.0, 0.1, 0.25, 0.5], size=n),
        "hallucination": rng.choice([0.0, 0.0, 0.2, 1 / 3], size=n),
        "fluency": rng.uniform(0.5, 1.0, n).round(3),
    }
    cols["hallucination"][3] = np.nan  # one missing value (an extractor failure)
    for name, values in cols.items():
        table.values[name] = values
        f = pa.get_factor(name)
        table.provenance[name] = {"extractor": f.extractor, "version": "fake-1"}


def build_fixture_run(path: str | Path, *, xss: bool = False, minimal: bool = False, n_examples: int = 4,
                      seed: int = 0) -> Path:
    """Write a run directory to ``path``. ``xss`` puts script/img payloads into texts, model names and
    experiment values; ``minimal`` writes only the human judge (no evaluator, experiments, diagnostics,
    usage, validation)."""
    path = Path(path)
    rd = RunDir(path, create=True)
    ds = pa.load_dataset("summeval").sample(n_examples, seed=seed)
    if xss:
        o = ds.outputs[0]
        ds.outputs[0] = Output(o.id, o.example_id, o.text + " " + XSS_SCRIPT, o.producer, dict(o.metadata))
        o = ds.outputs[1]
        ds.outputs[1] = Output(o.id, o.example_id, XSS_IMG + " " + o.text, o.producer, dict(o.metadata))
        e = ds.examples[0]
        ds.examples[0] = type(e)(e.id, e.task, e.input + " " + XSS_SCRIPT + XSS_IMG, e.title, e.sources,
                                 dict(e.metadata))
    judges = [{"name": "human", "kind": "human", "model": None, "policy": "human",
               "n_pairs": len(ds.preferences_of("human"))}]
    if not minimal:
        pair_map, out_map = ds.pair_map(), ds.output_map()
        prefs = []
        for pr in ds.preferences_of("human"):
            p = pair_map[pr.pair_id]
            la, lb = _words(out_map[p.a].text), _words(out_map[p.b].text)
            v = Verdict.TIE if abs(la - lb) <= 3 else (Verdict.A if la > lb else Verdict.B)
            prefs.append(Preference(p.id, EVAL, v))
        g_outs, g_pairs, g_prefs = _generated(ds)
        ds = pa.Dataset(ds.name, ds.task, ds.examples, [*ds.outputs, *g_outs], [*ds.pairs, *g_pairs],
                        [*ds.preferences, *prefs, *g_prefs], ds.report)
        model = "fake:longer" + (XSS_IMG if xss else "")
        judges += [
            {"name": EVAL, "kind": "evaluation", "model": model, "policy": "evaluation",
             "n_pairs": len(prefs), "n_failed": 0, "both_orders": True},
            {"name": GEN, "kind": "generation", "model": model, "policy": "generation",
             "n_pairs": len(g_prefs), "n_failed": 1},
        ]
    rd.write_dataset(ds)
    table = pa.compute_factors(ds)
    _fake_llm_columns(table, seed)
    rd.write_factors(table)
    factors = list(pa.taxonomy.TASK_FACTORS["summarization"])

    # the tables come from the pipeline's own table assembly, as in a real run
    results = [JudgeResult("human", JudgeKind.HUMAN, None, "human", preferences=ds.preferences_of("human"))]
    if not minimal:
        results += [
            JudgeResult(EVAL, JudgeKind.EVALUATION, model, "evaluation", preferences=prefs,
                        stats={"both_orders": True, "combine": "tie", "first_position_win_rate": 0.62,
                               "flip_rate": 0.21, "n_invalid": 2,
                               "tie_rate": float(np.mean([p.verdict == 0 for p in prefs]))}),
            JudgeResult(GEN, JudgeKind.GENERATION, model, "generation", preferences=g_prefs)]
    st = StatsConfig(n_boot=N_BOOT, difference_boot=N_BOOT, seed=seed)
    scores = score_judges(ds, table, results, factors, st)
    for r in scores.values():
        rd.write_scores(r)
    for name, df in assemble_tables(ds, table, results, st, factors=factors, scores=scores).items():
        if minimal and name != "factor_scores":
            continue
        rd.write_table(TABLES[name], df)
    if not minimal:
        write_joint_analysis(rd, explain(ds, table, factors=factors, n_boot=N_BOOT, seed=seed, tau_boot=N_BOOT))
        answers = pd.DataFrame([{
            "stage": "evaluation", "prompt_type": "pairwise_eval", "model": model, "item_id": p.pair_id,
            "input_key": p.pair_id, "variant": "AB", "answer": {1: "1", -1: "2", 0: "tie"}[int(p.verdict)],
            "valid": True, "finish_reason": "stop", "cached": False, "echo": False} for p in prefs])
        rd.write_answers(answers[list(ANSWER_COLUMNS)])
        details = pd.DataFrame([{
            "output_id": oid, "factor": "hallucination", "value": table.values.loc[oid, "hallucination"],
            "extractor": "llm-fact", "version": "fake-1", "detail": json.dumps({"verdicts": ["yes", "no"]}),
            "n_items": 3, "n_failed": int(i == 3)} for i, oid in enumerate(table.values.index)])
        rd.write_table("factor_details", details, csv=False)
        row = {"backend": "fake", "model": model, "cached": 0, "latency_s": 0.0, "cost_usd": 0.0}
        usage = {"rows": [
            {**row, "prompt_type": "pairwise_eval", "requests": 388, "failures": 0, "parse_failures": 2,
             "prompt_tokens": 170_000, "completion_tokens": 8_000, "wall_s": 420.8},
            {**row, "prompt_type": "scored_generation", "requests": 24, "failures": 1, "parse_failures": 0,
             "prompt_tokens": 11_230, "completion_tokens": 1_114, "wall_s": 201.0}],
            "total": {"requests": 412, "cached": 0, "failures": 1, "parse_failures": 2, "prompt_tokens": 181_230,
                      "completion_tokens": 9_114, "latency_s": 0.0, "cost_usd": 0.0, "wall_s": 621.8},
            "failure_rates": {"pairwise_eval": 2 / 388, "scored_generation": 1 / 24}}
        rd.write_json("usage.json", usage)
        flag = {"flag": "position_only_judge", "prompt_type": "pairwise_eval", "model": model,
                "evidence": "first position won 62% of 388 answers" + (XSS_SCRIPT if xss else ""),
                "advice": "run both orders or use a bigger model"}
        rd.write_json("diagnostics.json", {"flags": [flag], "per_prompt": [
            {"prompt_type": "pairwise_eval", "model": model, "n": 388, "distinct_answers": 3, "invalid_rate": 0.005,
             "truncation_rate": 0.0, "answer_share": {"1": 0.55, "2": 0.35, "tie": 0.10}}]})
        rd.write_table("tables/factor_validation", pd.DataFrame([
            {"factor": "coherence", "human_rating": "coherence", "kendall_tau": 0.21, "ci_low": 0.05,
             "ci_high": 0.36, "n": 58, "self_consistency": 0.91},
            {"factor": "hallucination", "human_rating": "consistency", "kendall_tau": -0.12, "ci_low": -0.3,
             "ci_high": 0.04, "n": 57, "self_consistency": 0.84}]))
        gdir = "experiments/guide"
        rd.write_json(f"{gdir}/summary.json", {
            "guide_mis_factor": "length", "guide_rand_factor": "fluency", "n_pairs": 200,
            "agreement_baseline": 0.529, "agreement_rand": 0.532, "agreement_mis": 0.578,
            "mcnemar_p": 0.041, "note": "fixture values" + (XSS_IMG if xss else "")})
        rd.write_table(f"{gdir}/agreement", pd.DataFrame({
            "condition": ["none", "GuideRand", "GuideMis"], "agreement": [0.529, 0.532, 0.578],
            "ci_low": [0.46, 0.46, 0.51], "ci_high": [0.60, 0.60, 0.65]}))
        rd.write_json("experiments/paradox/summary.json", {
            "model": model, "n_questions": 150, "generation_accuracy": 0.41, "evaluation_accuracy": 0.33,
            "unfaithful_evaluation": 0.27})
    cfg = {"dataset": {"source": "summeval", "sample": n_examples}, "judges": [j["name"] for j in judges],
           "seed": seed}
    prov = {f: table.provenance.get(f, {}).get("extractor", "?") for f in table.factor_names}
    manifest = {
        "profile_align_version": pa.__version__,
        "created": "2026-11-23T15:30:00+00:00", "updated": "2026-11-23T15:52:10+00:00",
        "status": "complete",
        "config": cfg, "config_hash": config_hash(cfg),
        "versions": {"python": "3.11.7", "numpy": "1.26.4", "pandas": "2.2.2"},
        "dataset": {"source": "summeval", "name": ds.name, "task": ds.task, "n_examples": len(ds.examples),
                    "n_outputs": len(ds.outputs), "n_pairs": len(ds.pairs),
                    "load_report": ds.report.to_dict() if ds.report else None},
        "factors": {"names": table.factor_names, "extractors": prov,
                    "missing": {f: int(table.values[f].isna().sum()) for f in table.factor_names
                                if table.values[f].isna().any()}},
        "judges": judges,
        "seeds": {"sample": seed, "bootstrap": seed, "generation": seed},
    }
    if not minimal:
        manifest.update({
            "usage": {"requests": 412, "cached": 12, "failures": 1, "parse_failures": 2,
                      "prompt_tokens": 181_230, "completion_tokens": 9_114, "cost_usd": 0.0, "wall_s": 1234.5},
            "failures": {"evaluation/pairwise_eval": {"requests": 388, "failed": 0, "parse_failed": 2},
                         "generation/scored_generation": {"requests": 24, "failed": 1, "parse_failed": 0}},
            "flags": [],
            "timings": {"load": 0.4, "factors": 610.2, "generation": 201.0, "evaluation": 420.8, "stats": 2.1},
        })
    rd.write_manifest(manifest)
    return path


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args:
        sys.exit("usage: fixture_run.py OUT_DIR [--xss] [--minimal]")
    print(build_fixture_run(args[0], xss="--xss" in args, minimal="--minimal" in args))
