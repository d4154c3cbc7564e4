"""The report's "Data overview" section: the numbers of ``profile-align overview`` for the run's data
set (pairs, examples and clusters, ties, longer / position-A preferred shares, mean lengths, and the
rule-based factor scores of the human labels with bootstrap CIs). Registered here; collected by
:mod:`.document`."""

from __future__ import annotations

from ..overview import data_overview
from .blocks import Block, KeyValues, Table, fmt_int, fmt_score
from .build import RunData
from .sections import Omitted, register_section

__all__ = ["sec_overview"]

N_BOOT = 500  # the rule-factor CIs of the overview (a few seconds at most)


@register_section("overview", "Data overview",
                  "The data before any model: how often the preferred text is the longer one or in position A, "
                  "and the rule-based factor scores of the human labels.")
def sec_overview(run: RunData) -> list[Block]:
    ds = run.dataset
    if ds is None:
        raise Omitted("not in this run directory (the data set)")
    if "human" not in ds.judges:
        raise Omitted("the data set has no human labels")
    ov = data_overview(ds, n_boot=N_BOOT, seed=0)
    blocks: list[Block] = [KeyValues(ov.rows(), columns=1)]
    if ov.scores is not None:
        rows = [[r.factor, fmt_score(r.score), "—" if r.ci_low != r.ci_low else
                 f"[{fmt_score(r.ci_low)}, {fmt_score(r.ci_high)}]", fmt_int(r.concordant), fmt_int(r.discordant),
                 fmt_int(r.n_used)] for r in ov.scores.to_frame().itertuples()]
        blocks.append(Table(["factor", "score", "95% CI", "C", "D", "n used"], rows,
                            f"Rule-based factor scores of the human labels (tau_14, cluster bootstrap B={N_BOOT})",
                            frozenset({1, 3, 4, 5})))
    return blocks
