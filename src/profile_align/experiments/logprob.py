"""Log-probability vs target score (the later revision of PROFILE, its Figure 4): are a generator's
"better" outputs simply its more probable ones?

For every output a generator wrote for target score s (``<label>:generation`` outputs with
``target_score`` in their metadata), the generator's own log-probability of that output is computed as
its reply to the task prompt *without* the score instruction (``prompts/logprob_context.txt``: the
input, the task instruction and the word limit), in total and per token. Reported per generator (model)
and task: Pearson and Kendall tau-b between target score and log-probability on the pooled outputs, and
the mean within-example Kendall tau, each with an example-cluster bootstrap CI.

Needs a backend with prompt logprobs (:mod:`profile_align.backends.scoring`); the requests go through
the run directory's cache (``cache.sqlite``) and the usual accounting (prompt type
``continuation_logprob``). Results: ``RUN_DIR/logprob/{outputs,correlations}.{parquet,csv}`` and
``summary.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..prompts import load_prompt
from ..rundir import RunDir
from ..stats.correlation import correlation
from .common import experiment_client, model_name
from .runinfo import judge_config, judge_entries, model_of, run_task

__all__ = ["LogprobResult", "run_logprob_check", "logprob_correlations", "context_messages", "FOLDER", "MEASURES"]

FOLDER = "logprob"
MEASURES = ("logprob", "logprob_per_token")
METHODS = ("pearson", "kendall", "kendall_within")


@dataclass
class LogprobResult:
    summary: dict[str, Any]
    outputs: pd.DataFrame  # one row per scored output
    correlations: pd.DataFrame  # generator x measure x method

    def to_frame(self) -> pd.DataFrame:
        return self.correlations


def context_messages(rd: RunDir, judge_name: str, example: Any, task: str) -> list[dict[str, str]]:
    """The generator's task prompt without the score instruction (and without the JSON instruction):
    the input, the task instruction and the length limit the generator was given (if any)."""
    from ..judges import length_limit, render_context, task_wording

    cfg = judge_config(rd, judge_name)
    max_words = getattr(getattr(cfg, "generation", None), "max_words", None)
    w = task_wording(task)
    prompt = load_prompt("logprob_context", package=__package__)
    return prompt.render(context=render_context(example, task), instruction=w["instruction"],
                         length_limit=length_limit(w["noun"], max_words, "one"))


def logprob_correlations(outputs: pd.DataFrame, *, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Correlation of ``target_score`` with each log-probability measure, per generator and task."""
    rows = []
    for (gen, model, task), sub in outputs.groupby(["generator", "model", "task"], sort=True):
        for measure in MEASURES:
            for method in METHODS:
                c = correlation(sub["target_score"].to_numpy(float), sub[measure].to_numpy(float),
                                sub["example_id"].to_numpy(object), method=method, n_boot=n_boot, seed=seed)
                rows.append({"generator": gen, "model": model, "task": task, "measure": measure, "method": method,
                             "r": c.r, "ci_low": c.ci_low, "ci_high": c.ci_high, "p_value": c.p_value,
                             "n_outputs": c.n, "n_examples": c.n_examples})
    return pd.DataFrame(rows, columns=["generator", "model", "task", "measure", "method", "r", "ci_low", "ci_high",
                                       "p_value", "n_outputs", "n_examples"])


def run_logprob_check(run_dir: str | Path | RunDir, *, judge: str | None = None, model: Any = None,
                      limit: int | None = None, n_boot: int = 2000, seed: int = 0, cache_mode: str = "use",
                      progress: bool = True) -> LogprobResult:
    """Score every target-score output of the run's generation judges (or only ``judge``) with its
    generator (``model`` overrides the generator's model string; it may be a Backend). ``limit``: only the
    first N examples (sorted ids)."""
    from ..backends import RequestFailed, get_backend
    from ..backends.scoring import ContinuationScorer, read_continuation_logprob, scoring_request
    rd = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    entries = [j for j in judge_entries(rd) if j.get("kind") == "generation"]
    if judge is not None:
        entries = [j for j in entries if j.get("name") in (judge, f"{judge}:generation")]
    if not entries:
        have = [j.get("name") for j in judge_entries(rd)]
        raise ValueError(f"{rd.path}: no generation judge{' ' + repr(judge) if judge else ''} in this run; judges: {have}")
    ds = rd.read_dataset()
    task = run_task(rd)
    examples = {e.id: e for e in ds.examples}
    keep_ids = sorted(examples)[:limit] if limit is not None else None
    prompt = load_prompt("logprob_context", package=__package__)
    rows: list[dict[str, Any]] = []
    failures: dict[str, int] = {}
    generators = []
    for entry in entries:
        name = entry["name"]
        outs = [o for o in ds.outputs if o.producer == name and o.metadata.get("target_score") is not None
                and o.example_id in examples and (keep_ids is None or o.example_id in keep_ids)]
        if not outs:
            failures[name] = 0
            continue
        target = model if model is not None else model_of(rd, name)
        backend = get_backend(target) if isinstance(target, str) else getattr(target, "backend", target)
        client = experiment_client(ContinuationScorer(backend), rd, cache_mode=cache_mode, progress=progress)
        msgs_of = {eid: context_messages(rd, name, examples[eid], task) for eid in {o.example_id for o in outs}}
        reqs = [scoring_request(msgs_of[o.example_id], o.text, prompt_version=prompt.tag) for o in outs]
        n_failed = 0
        first_error = ""
        for o, resp in zip(outs, client.run_all(reqs, desc=f"log-probabilities ({name})")):
            if isinstance(resp, RequestFailed):
                n_failed += 1
                first_error = first_error or resp.message
                continue
            lp = read_continuation_logprob(resp)
            rows.append({"generator": name, "model": client.backend.model_id, "task": task,
                         "example_id": o.example_id, "output_id": o.id, "target_score": int(o.metadata["target_score"]),
                         "n_tokens": lp.n_tokens, "logprob": lp.total, "logprob_per_token": lp.per_token,
                         "n_chars": len(o.text), "method": lp.method})
        failures[name] = n_failed
        usage = client.accounting.to_dict()
        client.close()
        generators.append({"generator": name, "model": model_name(backend), "n_outputs": len(outs),
                           "n_failed": n_failed, "usage": usage})
        if n_failed == len(outs):
            raise RuntimeError(f"{name}: every log-probability request failed; the first: {first_error}")
    outputs = pd.DataFrame(rows, columns=["generator", "model", "task", "example_id", "output_id", "target_score",
                                          "n_tokens", "logprob", "logprob_per_token", "n_chars", "method"])
    if outputs.empty:
        raise ValueError(f"{rd.path}: the generation judges {[e['name'] for e in entries]} have no outputs with "
                         "a target score to score")
    corr = logprob_correlations(outputs, n_boot=n_boot, seed=seed)
    summary = {"task": task, "prompt": prompt.tag, "n_boot": n_boot, "seed": seed,
               "limit": limit, "generators": generators, "failures": failures,
               "correlations": [{k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()}
                                for r in corr.to_dict(orient="records")]}
    rd.write_table(f"{FOLDER}/outputs", outputs)
    rd.write_table(f"{FOLDER}/correlations", corr)
    rd.write_json(f"{FOLDER}/summary.json", summary)
    return LogprobResult(summary, outputs, corr)
