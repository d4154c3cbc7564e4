"""``profile-align overview DATA``: what a preference data set looks like before any model runs.

Pairs, examples (and bootstrap clusters), ties, the share of decisive pairs in which the preferred
text is the longer one and in which it is in position A, the mean length (words, the ``length``
factor) of preferred and rejected texts, and the scores of the rule-based factors (no model) with
bootstrap CIs. The same numbers are a section of the report (:mod:`profile_align.report.overview_section`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Optional

import numpy as np
import typer

from .data.dataset import Dataset
from .factors.rules import words
from .stats import FactorScoreResult

__all__ = ["DataOverview", "data_overview", "overview", "register"]


@dataclass
class DataOverview:
    """The numbers of :func:`data_overview` (counts over the human labels)."""

    name: str
    task: str
    pairs: int
    examples: int
    clusters: int
    outputs: int
    judges: dict[str, int]
    ties_dropped: int | None
    ties_kept: int | None
    decisive: int              # human verdicts A or B
    longer_decided: int        # decisive pairs whose two texts differ in length
    longer_preferred: int      # ... in which the preferred text is the longer one
    a_preferred: int           # decisive pairs in which the preferred text is in position A
    mean_words_preferred: float | None
    mean_words_rejected: float | None
    scores: FactorScoreResult | None = field(default=None, repr=False)

    @property
    def share_longer_preferred(self) -> float | None:
        return self.longer_preferred / self.longer_decided if self.longer_decided else None

    @property
    def share_a_preferred(self) -> float | None:
        return self.a_preferred / self.decisive if self.decisive else None

    def rows(self) -> list[tuple[str, str]]:
        """(what, value) rows for a terminal or a report."""
        def pct(x: float | None) -> str:
            return "-" if x is None else f"{x:.1%}"

        def num(x: float | None) -> str:
            return "-" if x is None else f"{x:.1f}"

        ties = "-" if self.ties_dropped is None else f"{self.ties_dropped} dropped"
        if self.ties_kept:
            ties += f", {self.ties_kept} kept (judge ties in tau_14)"
        return [
            ("pairs", f"{self.pairs}"),
            ("examples", f"{self.examples} in {self.clusters} bootstrap clusters (same input text = one cluster)"),
            ("outputs", f"{self.outputs}"),
            ("judges", ", ".join(f"{j} ({n} verdicts)" for j, n in self.judges.items())),
            ("human ties", ties),
            ("preferred text is the longer one",
             f"{pct(self.share_longer_preferred)} of {self.longer_decided} decisive pairs with different lengths"),
            ("preferred text is in position A", f"{pct(self.share_a_preferred)} of {self.decisive} decisive pairs"),
            ("mean length, preferred vs rejected",
             f"{num(self.mean_words_preferred)} vs {num(self.mean_words_rejected)} words"),
        ]

    def to_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in ("name", "task", "pairs", "examples", "clusters", "outputs", "judges",
                                           "ties_dropped", "ties_kept", "decisive", "longer_decided",
                                           "longer_preferred", "a_preferred", "mean_words_preferred",
                                           "mean_words_rejected")}
        d["share_longer_preferred"] = self.share_longer_preferred
        d["share_a_preferred"] = self.share_a_preferred
        if self.scores is not None:
            df = self.scores.to_frame()
            d["rule_factor_scores"] = json.loads(df.to_json(orient="records"))
        return d


def data_overview(ds: Dataset, *, n_boot: int = 1000, ci: float = 0.95, seed: int = 0,
                  table: Any = None) -> DataOverview:
    """The overview of ``ds`` (human labels). ``table``: a factor table to score (default: the
    task's rule-based factors, computed now; no model)."""
    from .factors.table import compute_factors
    from .scoring import factor_scores
    from .taxonomy import factors_for_task

    outs = ds.output_map()
    pairs = ds.pair_map()
    human = ds.preferences_of("human")
    n_words = {o.id: len(words(o.text)) for o in ds.outputs}
    decisive = longer_decided = longer_pref = a_pref = 0
    pref_w, rej_w = [], []
    for p in human:
        v = int(p.verdict)
        if v == 0:
            continue
        pr = pairs[p.pair_id]
        win, lose = (pr.a, pr.b) if v > 0 else (pr.b, pr.a)
        decisive += 1
        a_pref += v > 0
        pref_w.append(n_words[win])
        rej_w.append(n_words[lose])
        if n_words[win] != n_words[lose]:
            longer_decided += 1
            longer_pref += n_words[win] > n_words[lose]
    scores = None
    if human:
        if table is None:
            names = [f.name for f in factors_for_task(ds.task, only_rule=True)]
            table = compute_factors(ds, names)
        scores = factor_scores(ds, table, judge="human", n_boot=n_boot, ci=ci, seed=seed)
    r = ds.report
    return DataOverview(
        name=ds.name, task=ds.task, pairs=len(ds.pairs), examples=len(ds.examples),
        clusters=len(set(ds.clusters().values())), outputs=len(outs),
        judges={j: len(ds.preferences_of(j)) for j in (["human"] + [j for j in ds.judges if j != "human"])
                if j in ds.judges},
        ties_dropped=r.ties_dropped if r else None, ties_kept=r.ties_kept if r else None,
        decisive=decisive, longer_decided=longer_decided, longer_preferred=longer_pref, a_preferred=a_pref,
        mean_words_preferred=float(np.mean(pref_w)) if pref_w else None,
        mean_words_rejected=float(np.mean(rej_w)) if rej_w else None, scores=scores)


def overview(
    data: Annotated[str, typer.Argument(help="Dataset: a file, a shipped set name or hf:<name> (as for `score`).")],
    fmt: Annotated[Optional[str], typer.Option("--format", help="Input format (default: detected; see `profile-align datasets`).")] = None,
    task: Annotated[Optional[str], typer.Option("--task", help="summarization | helpful_response | document_qa (aliases accepted).")] = None,
    map: Annotated[Optional[list[str]], typer.Option("--map", help="Generic format column mapping, FIELD=COLUMN (as for `score`).")] = None,
    label_map: Annotated[Optional[str], typer.Option("--label-map", help="What each preference label means, e.g. 0=tie,1=a,2=b.")] = None,
    judges: Annotated[Optional[str], typer.Option("--judges", help="More judges' label columns, NAME=COLUMN,... (counted).")] = None,
    keep_human_ties: Annotated[bool, typer.Option("--keep-human-ties", help="Keep human ties (judge ties in tau_14).")] = False,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="Skip malformed rows (listed in skipped_rows.csv).")] = False,
    n_boot: Annotated[int, typer.Option("--n-boot", help="Bootstrap replicates for the rule-factor CIs.")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Bootstrap seed.")] = 0,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Also write the overview as .json.")] = None,
) -> None:
    """A data overview before any model runs: pairs, examples, ties, how often the preferred text is
    the longer one and in position A, mean lengths of preferred vs rejected texts, and the rule-based
    factor scores with bootstrap CIs. Runs in seconds; no model."""
    from rich.table import Table

    from .cli import _load  # the loader shared by the commands (same package)
    from .cli_options import err, out

    ds = _load(data, fmt, task, None, "mean", map, skip_invalid, None, label_map=label_map,
               skipped_to=(output.parent / "skipped_rows.csv") if output else None, judges=judges,
               keep_ties=keep_human_ties)
    ov = data_overview(ds, n_boot=n_boot, seed=seed)
    t = Table(title=f"overview of {ds.name} (task {ds.task})", show_header=False)
    t.add_column("")
    t.add_column("")
    for k, v in ov.rows():
        t.add_row(k, v)
    out.print(t)
    if ov.scores is not None:
        s = Table(title=f"rule-based factor scores of the human labels (tau_14; 95% CI by cluster bootstrap, B={n_boot})")
        for c in ("factor", "score", "95% CI", "C", "D", "n used"):
            s.add_column(c, justify="left" if c == "factor" else "right")
        for r in ov.scores.to_frame().itertuples():
            ci_txt = "-" if r.ci_low != r.ci_low else f"[{r.ci_low:+.3f}, {r.ci_high:+.3f}]"
            s.add_row(r.factor, "-" if r.score != r.score else f"{r.score:+.3f}", ci_txt, str(r.concordant),
                      str(r.discordant), str(r.n_used))
        out.print(s)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(ov.to_dict(), indent=1))
        err.print(f"wrote {output}")


def register(app: typer.Typer) -> None:
    app.command("overview")(overview)
