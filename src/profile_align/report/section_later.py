"""Report sections of the later revision's additions: log-probability vs target score
(``RUN_DIR/logprob/``, written by ``profile-align logprob-check``) and the self-guidance preference set
(``RUN_DIR/selfguide/``, written by ``profile-align selfguide-export``)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..rundir import RunDir
from .blocks import Block, KeyValues, Note, fmt_int, fmt_num, frame_table
from .build import RunData
from .sections import Omitted, register_section

__all__ = ["sec_logprob", "sec_selfguide"]


def _read(run: RunData, folder: str, tables: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    rd = RunDir(run.path)
    if not rd.exists(f"{folder}/summary.json"):
        raise Omitted(f"not in this run directory ({folder}/summary.json)")
    return rd.read_json(f"{folder}/summary.json"), {t: rd.read_table(f"{folder}/{t}") for t in tables
                                                   if rd.has_table(f"{folder}/{t}")}


@register_section("logprob", "Log-probability vs target score",
                  "Does the generator give its 'better' outputs a higher probability? The generator's own "
                  "log-probability of each output it wrote for target score s, given the input without the score "
                  "instruction, correlated with s (Pearson and Kendall on all outputs; Kendall within each example, "
                  "averaged); 95% CIs by example bootstrap (profile-align logprob-check).")
def sec_logprob(run: RunData) -> list[Block]:
    summary, tables = _read(run, "logprob", ("correlations", "outputs"))
    blocks: list[Block] = [KeyValues([
        ("task", str(summary.get("task"))), ("prompt", str(summary.get("prompt"))),
        ("bootstrap replicates", fmt_int(summary.get("n_boot"))),
        *[(f"{g['generator']}", f"{fmt_int(g['n_outputs'] - g['n_failed'])} of {fmt_int(g['n_outputs'])} outputs scored "
           f"({g['model']})") for g in summary.get("generators", [])]])]
    corr = tables.get("correlations")
    if corr is not None and not corr.empty:
        show = corr.copy()
        show["CI"] = [f"[{fmt_num(a)}, {fmt_num(b)}]" for a, b in zip(show["ci_low"], show["ci_high"])]
        blocks += frame_table(show[["generator", "measure", "method", "r", "CI", "n_outputs", "n_examples"]],
                              "correlation of target score with log-probability", "logprob/correlations")
    outs = tables.get("outputs")
    if outs is not None and not outs.empty:
        means = (outs.groupby(["generator", "target_score"])[["logprob", "logprob_per_token", "n_tokens"]]
                 .mean().reset_index())
        blocks += frame_table(means, "mean log-probability per target score", "logprob/outputs")
    if any(g.get("n_failed") for g in summary.get("generators", [])):
        blocks.append(Note("some outputs could not be scored; they are left out (see summary.json)", "warn"))
    return blocks


@register_section("selfguide", "Self-guidance preference data",
                  "Pairs of the generator's outputs judged by the model's own evaluator, exported for DPO/ORPO; "
                  "the factor scores of the judged and the exported pairs (tau_14 with the chosen text preferred) "
                  "show what a model trained on them is pushed towards (profile-align selfguide-export).")
def sec_selfguide(run: RunData) -> list[Block]:
    s, tables = _read(run, "selfguide", ("factor_scores",))
    items = [(k.replace("_", " "), str(s.get(k))) for k in
             ("generator", "evaluator", "guidance_factor", "balance", "balance_factor", "weight", "format",
              "n_pairs_judged", "n_ties", "n_no_verdict", "n_decided", "n_exported")]
    items += [(f"{s.get('balance_factor')}: chosen vs rejected, {k}", ", ".join(f"{a} {b}" for a, b in (s.get(f"direction_{k}") or {}).items()))
              for k in ("judged", "exported")]
    items += [(f"file ({k})", v) for k, v in (s.get("files") or {}).items()]
    blocks: list[Block] = [KeyValues(items)]
    fs = tables.get("factor_scores")
    if fs is not None and not fs.empty:
        piv = fs.pivot(index="factor", columns="set", values="score").reset_index()
        blocks += frame_table(piv, "factor scores of the preference pairs (chosen preferred)", "selfguide/factor_scores")
    return blocks
