"""Reading a run directory for the report: judges, derived numbers, missing and broken parts."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from profile_align.report import NotARunDirectory, build_report, load_run
from profile_align.report.derive import differences, factor_correlation, gen_eval_pairs, score_matrix, striking_factors
from profile_align.rundir import RunDir


def test_load_full_run(full_run):
    run = load_run(full_run)
    assert run.judge_names == ["human", "fake:evaluation", "fake:generation"]
    assert [j.kind for j in run.judges] == ["human", "evaluation", "generation"]
    assert set(run.experiments) == {"guide", "paradox"}
    assert "agreement" in run.experiments["guide"].tables
    assert run.validation_name == "tables/factor_validation"
    assert run.problems == []


def test_score_matrix_matches_stored_table(full_run):
    run = load_run(full_run)
    m = score_matrix(run)
    stored = RunDir(full_run).read_table("tables/factor_scores")
    for r in stored.itertuples():
        assert m.at[r.factor, r.judge] == pytest.approx(r.score, nan_ok=True)
    # rows follow the human's ranking
    human = stored[stored.judge == "human"].sort_values("score", ascending=False)
    assert list(m.index) == list(human.factor)


def test_differences_sign_convention_is_normalised(full_run, tmp_path):
    run = load_run(full_run)
    d1 = differences(run)
    assert np.allclose(d1["diff"], d1["score_judge"] - d1["score_human"], equal_nan=True)
    # the same table stored as human - judge must give the same report numbers
    copy = tmp_path / "flipped"
    shutil.copytree(full_run, copy)
    rd = RunDir(copy)
    t = rd.read_table("tables/differences")
    t["diff"], t["ci_low"], t["ci_high"] = -t["diff"], -t["ci_high"], -t["ci_low"]
    rd.write_table("tables/differences", t)
    d2 = differences(load_run(copy))
    # a zero difference does not tell which way a table was stored (here the human and the evaluator both
    # score a factor alike under the evaluation rule): those rows keep their interval as stored
    zero = d1["diff"].abs() < 1e-12
    pd.testing.assert_frame_equal(d1[~zero], d2[~zero])
    assert np.allclose(d2.loc[zero, "ci_low"], -d1.loc[zero, "ci_high"], equal_nan=True)


def test_striking_factors_are_the_largest_differences(full_run):
    run = load_run(full_run)
    d = differences(run)
    sub = d[d.judge == "fake:evaluation"].dropna(subset=["diff"])
    top = list(sub.assign(a=sub["diff"].abs()).sort_values("a", ascending=False).factor[:3])
    assert striking_factors(run, "fake:evaluation") == top
    assert "length" in top  # the fake evaluator prefers the longer text; the humans do not


def test_correlation_and_gen_eval(full_run):
    run = load_run(full_run)
    c = factor_correlation(run)
    assert c.shape == (10, 10)
    assert np.allclose(np.diag(c.to_numpy()), 1.0)
    # length and the fake # facts (built from length) are strongly correlated
    assert c.at["length", "n_facts"] > 0.5
    (p,) = gen_eval_pairs(run)
    assert (p.label, p.generation, p.evaluation) == ("fake", "fake:generation", "fake:evaluation")


def test_not_a_run_directory(tmp_path):
    with pytest.raises(NotARunDirectory, match="not a run directory"):
        load_run(tmp_path)
    with pytest.raises(FileNotFoundError):
        load_run(tmp_path / "nope")


def test_broken_optional_files_are_reported_not_fatal(full_run, tmp_path):
    copy = tmp_path / "broken"
    shutil.copytree(full_run, copy)
    (copy / "diagnostics.json").write_text("{not json")
    (copy / "tables" / "alignment.parquet").write_bytes(b"garbage")
    (copy / "experiments" / "guide" / "summary.json").write_text("[1, 2")
    rep = build_report(copy)
    probs = " | ".join(rep.run.problems)
    assert "diagnostics.json" in probs and "tables/alignment" in probs
    assert rep.omitted["alignment"].startswith("not in this run directory")
    guide = next(s for s in rep.sections if s.id == "exp-guide")
    assert any("summary.json" in getattr(b, "text", "") for b in guide.blocks)
    assert rep.errors == []


def test_scores_fall_back_to_json_results(full_run, tmp_path):
    copy = tmp_path / "nojsontable"
    shutil.copytree(full_run, copy)
    for suffix in (".parquet", ".csv"):
        (copy / "tables" / f"factor_scores{suffix}").unlink()
    a, b = score_matrix(load_run(full_run)), score_matrix(load_run(copy))
    pd.testing.assert_frame_equal(a, b)
