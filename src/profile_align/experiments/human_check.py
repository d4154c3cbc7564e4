"""Human check of a model judge's preferences (paper, Appendix A): export pairs for annotators, import
their answers, and report how often the annotators' majority agrees with the judge.

``export_form`` samples N pairs judged by a judge of a run (e.g. ``local:generation``: pairs of its own
scored outputs, the higher target score preferred), shows each pair's texts in a random order (seeded;
the key is kept in the run directory, not in the form) and writes

* ``form.csv`` — one row per item: ``item, context, text_1, text_2, annotator_1..K`` (empty cells to fill
  with 1, 2, or tie);
* ``form.html`` — the same items as an offline page with radio buttons and a button that saves the
  answers as CSV (no network, every text HTML-escaped).

``import_answers`` reads one or more filled CSVs (columns ``item`` and ``annotator_*``, or one file per
annotator with ``item, answer``), maps answers back to the pair orientation and reports agreement:
the share of items whose annotator majority (strictly more than half of the valid votes) prefers the
same text as the judge, with a Wilson CI; items without a majority are counted, not guessed.
"""

from __future__ import annotations

import html
import random
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..data.dataset import InvalidInputError
from ..rundir import RunDir
from ..stats.alignment import wilson_interval

__all__ = ["export_form", "import_answers", "parse_vote", "fleiss_kappa"]

_NAME = "human_check"


def parse_vote(value: Any) -> str | None:
    """'1'/'2'/'tie' (also a/b, first/second, 0 = tie); blank -> None. Anything else raises ValueError."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    v = str(value).strip().lower()
    if v == "":
        return None
    if v.endswith(".0"):
        v = v[:-2]
    if v in ("1", "a", "first", "text_1"):
        return "1"
    if v in ("2", "b", "second", "text_2"):
        return "2"
    if v in ("tie", "0", "equal", "same", "t"):
        return "tie"
    raise ValueError(f"not an answer: {value!r} (expected 1, 2 or tie)")


def export_form(run_dir: str | Path | RunDir, judge: str, *, n: int = 50, annotators: int = 3, seed: int = 0,
                out_dir: str | Path | None = None) -> dict[str, Path]:
    """Write ``form.csv``, ``form.html`` and the private ``key.csv`` for ``n`` pairs of ``judge``."""
    rd = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    ds = rd.read_dataset()
    prefs = [p for p in ds.preferences if p.judge == judge and int(p.verdict) != 0]
    if not prefs:
        raise ValueError(f"{rd.path}: judge {judge!r} has no non-tie preferences; judges: {ds.judges}")
    rng = random.Random(seed)
    chosen = sorted(rng.sample(prefs, min(n, len(prefs))), key=lambda p: p.pair_id)
    rng.shuffle(chosen)
    pairs, outs, exs = ds.pair_map(), ds.output_map(), ds.example_map()
    form_rows, key_rows = [], []
    for i, pref in enumerate(chosen, start=1):
        pair = pairs[pref.pair_id]
        swap = rng.random() < 0.5
        first, second = (pair.b, pair.a) if swap else (pair.a, pair.b)
        judge_prefers_output = pair.a if int(pref.verdict) == 1 else pair.b
        ex = exs[pair.example_id]
        item = f"item{i:03d}"
        form_rows.append({"item": item, "context": ex.input, "text_1": outs[first].text, "text_2": outs[second].text,
                          **{f"annotator_{k}": "" for k in range(1, annotators + 1)}})
        key_rows.append({"item": item, "pair_id": pair.id, "example_id": pair.example_id, "shown_1": first,
                         "shown_2": second, "judge": judge,
                         "judge_prefers": "1" if judge_prefers_output == first else "2"})
    out = Path(out_dir) if out_dir else rd.path / "experiments" / _NAME
    out.mkdir(parents=True, exist_ok=True)
    form = pd.DataFrame(form_rows)
    form.to_csv(out / "form.csv", index=False)
    pd.DataFrame(key_rows).to_csv(out / "key.csv", index=False)
    (out / "form.html").write_text(_form_html(form, judge_hidden=True, annotators=annotators), encoding="utf-8")
    return {"form_csv": out / "form.csv", "form_html": out / "form.html", "key": out / "key.csv"}


def _form_html(form: pd.DataFrame, *, judge_hidden: bool, annotators: int) -> str:
    e = html.escape
    items = []
    for r in form.itertuples(index=False):
        items.append(
            f'<section class="item" data-item="{e(r.item)}"><h2>{e(r.item)}</h2>'
            f'<details open><summary>Context</summary><pre>{e(r.context)}</pre></details>'
            f'<div class="texts"><div><h3>Text 1</h3><pre>{e(r.text_1)}</pre></div>'
            f'<div><h3>Text 2</h3><pre>{e(r.text_2)}</pre></div></div>'
            f'<p>Which text is better? '
            + "".join(f'<label><input type="radio" name="{e(r.item)}" value="{v}"> {lbl}</label> '
                      for v, lbl in (("1", "Text 1"), ("2", "Text 2"), ("tie", "Tie")))
            + "</p></section>")
    script = """
function save(){const who=document.getElementById('who').value.trim()||'annotator';
const rows=[['item','answer']];document.querySelectorAll('section.item').forEach(s=>{
const c=s.querySelector('input:checked');rows.push([s.dataset.item,c?c.value:''])});
const csv=rows.map(r=>r.join(',')).join('\\n')+'\\n';const a=document.createElement('a');
a.href='data:text/csv;charset=utf-8,'+encodeURIComponent(csv);a.download='answers_'+who+'.csv';a.click();}
"""
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'>"
            "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'; "
            "script-src 'unsafe-inline'\"><title>profile-align human check</title><style>"
            "body{font-family:sans-serif;max-width:70em;margin:auto}pre{white-space:pre-wrap}"
            ".texts{display:grid;grid-template-columns:1fr 1fr;gap:1em}section{border-top:1px solid #ccc}"
            "</style></head><body><h1>Which text is better?</h1>"
            f"<p>{len(form)} items. Read the context, then both texts, and choose. Your name: "
            "<input id='who'> <button onclick='save()'>Save my answers as CSV</button></p>"
            + "".join(items) + f"<script>{script}</script></body></html>")


def _read_votes(paths: Sequence[str | Path]) -> dict[str, list[str | None]]:
    votes: dict[str, list[str | None]] = {}
    for path in paths:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        if "item" not in df.columns:
            raise InvalidInputError(str(path), 1, "item", "missing column")
        cols = [c for c in df.columns if c.startswith("annotator_")] or (["answer"] if "answer" in df.columns else [])
        if not cols:
            raise InvalidInputError(str(path), 1, None, "expected annotator_* columns or an 'answer' column")
        for i, row in enumerate(df.itertuples(index=False), start=2):
            rec = row._asdict()
            for c in cols:
                try:
                    v = parse_vote(rec[c])
                except ValueError as e:
                    raise InvalidInputError(str(path), i, c, str(e)) from None
                votes.setdefault(rec["item"], []).append(v)
    return votes


def fleiss_kappa(counts: Sequence[Sequence[int]]) -> float:
    """Fleiss' kappa for items rated by the same number of raters (rows: items, columns: categories)."""
    import numpy as np

    m = np.asarray(counts, dtype=float)
    if m.size == 0:
        return float("nan")
    n = m.sum(axis=1)
    if not np.all(n == n[0]) or n[0] < 2:
        return float("nan")
    n0 = n[0]
    p_j = m.sum(axis=0) / m.sum()
    p_i = ((m * m).sum(axis=1) - n0) / (n0 * (n0 - 1))
    pe = float((p_j ** 2).sum())
    return float("nan") if pe == 1 else float((p_i.mean() - pe) / (1 - pe))


def import_answers(run_dir: str | Path | RunDir, answer_files: Sequence[str | Path], *,
                   key_file: str | Path | None = None) -> dict[str, Any]:
    """Agreement of the annotators' majority with the judge; writes ``experiments/human_check``."""
    rd = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    key_path = Path(key_file) if key_file else rd.path / "experiments" / _NAME / "key.csv"
    if not key_path.exists():
        raise FileNotFoundError(f"no key file {key_path}: run `profile-align human-check export` first")
    key = pd.read_csv(key_path, dtype=str).set_index("item")
    votes = _read_votes(answer_files)
    unknown = sorted(set(votes) - set(key.index))
    if unknown:
        raise ValueError(f"answers for items not in the key: {unknown[:5]}")
    rows, kappa_rows = [], []
    for item, k in key.iterrows():
        vs = [v for v in votes.get(item, []) if v is not None]
        c = Counter(vs)
        top, top_n = (c.most_common(1)[0] if c else (None, 0))
        majority = top if vs and top_n * 2 > len(vs) else None
        rows.append({"item": item, "pair_id": k["pair_id"], "judge_prefers": k["judge_prefers"],
                     "votes_1": c["1"], "votes_2": c["2"], "votes_tie": c["tie"], "n_votes": len(vs),
                     "majority": majority, "agrees": None if majority is None else majority == k["judge_prefers"]})
        if vs:
            kappa_rows.append([c["1"], c["2"], c["tie"]])
    df = pd.DataFrame(rows)
    decided = df["agrees"].dropna().astype(bool)
    lo, hi = wilson_interval(int(decided.sum()), len(decided))
    summary = {
        "judge": str(key["judge"].iloc[0]) if len(key) else None,
        "items": len(df), "answered": int((df["n_votes"] > 0).sum()), "with_majority": len(decided),
        "no_majority": int(((df["n_votes"] > 0) & df["majority"].isna()).sum()),
        "majority_is_tie": int((df["majority"] == "tie").sum()),
        "agreement": float(decided.mean()) if len(decided) else float("nan"), "ci_low": lo, "ci_high": hi,
        "fleiss_kappa": fleiss_kappa(kappa_rows),
    }
    from .common import write_experiment

    write_experiment(rd, _NAME, summary, {"agreement": df})
    return summary
