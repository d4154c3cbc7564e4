"""The HTML report: every section, numbers equal to the run's tables, self-contained, deterministic."""

from __future__ import annotations

import re

import pytest

from profile_align.report import build_report, write_report
from profile_align.report.html import CSP, render_html
from profile_align.rundir import RunDir

from .domparse import census

ALL_SECTIONS = ["findings", "run", "overview", "scores", "subgroups", "alignment", "differences", "failures", "rankings", "gen_eval",
                "bias",
                "correlation", "extraction", "validation", "examples", "exp-guide", "exp-improve", "exp-generalize",
                "exp-paradox", "joint", "logprob", "selfguide"]


def test_sections_and_figures_of_a_full_run(full_html):
    html = full_html.read_text()
    c = census(html)
    sections = [v for t, k, v in c.attrs if t == "section" and k == "id"]
    assert sections == ALL_SECTIONS
    svgs = [v for t, k, v in c.attrs if t == "svg" and k == "aria-label"]
    assert svgs == ["factor_scores", "differences", "generation_vs_evaluation", "evaluator_bias", "factor_correlation",
                    "joint_effects", "joint_correlation"]
    # only the experiments that were not run are omitted, and the subgroups (none in a run: score --group-by --out)
    assert re.findall(r'<section id="([^"]+)">\s*<h2>[^<]*</h2>\s*<p class="intro">[^<]*</p>\s*<p class="omitted">', html) \
        == ["subgroups", "exp-improve", "exp-generalize", "logprob", "selfguide"]
    assert len(set(c.ids)) == len(c.ids), "duplicate element ids"


def test_numbers_come_from_the_tables(full_run, full_html):
    html = full_html.read_text()
    rd = RunDir(full_run)
    al = rd.read_table("tables/alignment").set_index("judge")
    for judge, r in al.iterrows():
        # Kendall tau with its bootstrap CI over examples (both judges' scores recomputed per resample)
        assert r.kendall_ci_low <= r.kendall_tau <= r.kendall_ci_high
        assert f"{r.kendall_tau:+.3f} [{r.kendall_ci_low:+.3f}, {r.kendall_ci_high:+.3f}] (p " in html
        assert f"{r.spearman_rho:+.3f} (p " in html
    ev = al.loc["fake:evaluation"]
    assert f"{100 * ev.agreement:.1f}% [{100 * ev.agreement_ci_low:.1f}%, {100 * ev.agreement_ci_high:.1f}%]" in html
    sc = rd.read_table("tables/factor_scores")
    row = sc[(sc.judge == "fake:evaluation") & (sc.factor == "length")].iloc[0]
    assert f"{row.score:+.3f} [{row.ci_low:+.2f}, {row.ci_high:+.2f}]" in html
    # the rankings section: each rank with the share of resamples keeping it
    assert 0.0 <= row.rank_kept <= 1.0
    assert f"{int(row['rank'])} ({row.score:+.2f}; kept " in html
    bias = rd.read_table("tables/evaluator_bias").iloc[0]
    assert f"{100 * bias.flip_rate:.1f}%" in html
    assert "position_only_judge" in html  # the diagnostics flag
    assert "1 flag(s)" in html
    assert "3 of 412 LLM answers failed or unparseable" in html
    # load report: ties dropped and the dropped-row reason
    assert "human ties dropped" in html and "summary identical to another system" in html


def test_self_contained(full_html):
    html = full_html.read_text()
    assert f'content="{CSP}"' in html
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", html, re.I), "external URL in the report"
    c = census(html)
    assert "script" not in c.tags and "img" not in c.tags and "link" not in c.tags and "iframe" not in c.tags
    for tag, name, value in c.attrs:
        if name in ("src", "href", "xlink:href"):
            assert value.startswith(("#", "data:image/png;base64,")), (tag, name, value)
        assert not name.startswith("on"), (tag, name)
    assert "<?xml" not in html and "<!DOCTYPE svg" not in html and "<metadata>" not in html


def test_deterministic(full_run, tmp_path):
    # in this process and in a fresh one with another hash seed (set/dict order must not leak into the file)
    import os
    import subprocess
    import sys

    a = write_report(full_run, tmp_path / "a.html").path.read_bytes()
    code = "import sys; from profile_align.report import write_report; write_report(sys.argv[1], sys.argv[2])"
    subprocess.run([sys.executable, "-c", code, str(full_run), str(tmp_path / "b.html")], check=True,
                   env={**os.environ, "PYTHONHASHSEED": "12345"})
    assert a == (tmp_path / "b.html").read_bytes()


def test_long_texts_are_collapsed_not_cut(full_run, full_html):
    html = full_html.read_text()
    rep = build_report(full_run)
    ex = next(s for s in rep.sections if s.id == "examples")
    examples = [b for b in ex.blocks if type(b).__name__ == "PairExample"]
    assert len(examples) == 3
    texts = [t for b in examples for _, t in b.texts]
    assert any(t.long for t in texts)
    from markupsafe import escape

    for t in texts:
        esc = str(escape(t.value))
        if t.long:
            assert f'<div class="fulltext">{esc}</div></details>' in html
        else:
            assert f'<span class="shorttext">{esc}</span>' in html


def test_example_pairs_show_a_real_disagreement(full_run):
    rep = build_report(full_run)
    ds = RunDir(full_run).read_dataset()
    verdicts = {(p.judge, p.pair_id): int(p.verdict) for p in ds.preferences}
    ex = next(s for s in rep.sections if s.id == "examples")
    for b in (b for b in ex.blocks if type(b).__name__ == "PairExample"):
        pair = dict(b.facts)["pair"]
        assert verdicts[("human", pair)] == -verdicts[("fake:evaluation", pair)] != 0


def test_minimal_run_omits_with_notes(minimal_run, tmp_path):
    res = write_report(minimal_run, tmp_path / "m.html")
    assert res.errors == []
    for sid in ("alignment", "differences", "gen_eval", "bias", "validation", "examples", "exp-guide", "exp-paradox"):
        assert sid in res.omitted
    html = res.path.read_text()
    assert "No judge diagnostics in this run" in html
    assert html.count('<p class="omitted">') == len(res.omitted)


def test_manifest_only_run(tmp_path):
    rd = RunDir(tmp_path / "m", create=True)
    rd.write_manifest({"status": "failed", "dataset": {"name": "x", "task": "summarization"}})
    res = write_report(rd.path)
    assert res.path == rd.path / "report.html"
    html = res.path.read_text()
    assert "status: failed" in html
    assert "scores" in res.omitted and "examples" in res.omitted


def test_html_is_the_same_with_and_without_png_export(full_run, tmp_path):
    rep = build_report(full_run)
    first = render_html(rep)
    pngs = rep.save_figures(tmp_path / "figs")
    assert sorted(pngs) == sorted(rep.figures)
    assert render_html(rep) == first
    assert write_report(full_run, tmp_path / "x.html", figures_dir=tmp_path / "f2").path.read_text() == first


def test_unknown_format(full_run):
    with pytest.raises(ValueError, match="unknown report format"):
        write_report(full_run, fmt="pdf")
