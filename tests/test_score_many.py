"""score with --judges / --group-by / --keep-human-ties, bootstrap clusters by input text, and the same
results from a CSV and a JSONL copy of the same data."""

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from profile_align.cli import app
from profile_align.data.loaders import load_dataset
from profile_align.scoring import factor_scores, group_factor_scores

runner = CliRunner()
CONV = Path(__file__).parent / "data" / "fixtures" / "conventional"
LM = "0=tie,1=a,2=b"


def _length(res):
    df = res.to_frame().set_index("factor")
    return df.loc["length"]


def test_several_judge_columns_scored_without_a_model(tmp_path):
    out = tmp_path / "s.json"
    res = runner.invoke(app, ["score", str(CONV / "pairwise.csv"), "--label-map", LM, "--judges", "gpt4=gpt4_winner",
                              "--n-boot", "100", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "judge 'human' on pairwise: 11 pairs, 0 ties" in res.output
    assert "judge 'gpt4' on pairwise: 11 pairs, 1 ties" in res.output
    human = json.loads((tmp_path / "s.human.json").read_text())
    gpt4 = json.loads((tmp_path / "s.gpt4.json").read_text())
    assert human["judge"] == "human" and gpt4["judge"] == "gpt4"
    # gpt4 on length: C = 8, D = 2, one judge tie (evaluation policy counts it): (8 - 2) / 11
    g = _length(factor_scores(load_dataset(CONV / "pairwise.csv", label_map=LM, judges="gpt4=gpt4_winner"),
                              judge="gpt4", n_boot=0))
    assert (g.concordant, g.discordant, g.judge_ties) == (8, 2, 1) and g.score == pytest.approx(6 / 11)
    res = runner.invoke(app, ["align", str(tmp_path / "s.human.json"), str(tmp_path / "s.gpt4.json"), "--n-boot", "50"])
    assert res.exit_code == 0, res.output and "human - gpt4" in res.output


def test_group_by_gives_a_table_per_subgroup(tmp_path):
    out = tmp_path / "g.csv"
    res = runner.invoke(app, ["score", str(CONV / "pairwise.csv"), "--label-map", LM, "--judges", "gpt4=gpt4_winner",
                              "--group-by", "domain", "--n-boot", "50", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "domain=cooking: factor scores of judge 'gpt4'" in res.output
    assert "domain=tech: factor scores of judge 'human'" in res.output
    df = pd.read_csv(out).set_index(["domain", "judge", "factor"])
    # cooking: gpt4 C = 4, one tie -> 4 / 5; tech: C = 4, D = 2 -> 2 / 6 (the evaluation policy in both,
    # chosen from all of gpt4's verdicts)
    assert df.loc[("cooking", "gpt4", "length"), "score"] == pytest.approx(0.8)
    assert df.loc[("tech", "gpt4", "length"), "score"] == pytest.approx(1 / 3)
    assert df.loc[("tech", "human", "length"), "n_used"] == 6


def test_group_scores_need_the_group_column_loaded():
    ds = load_dataset(CONV / "pairwise.csv", label_map=LM)
    with pytest.raises(ValueError, match="load the data with --group-by domain"):
        group_factor_scores(ds, None, ["domain"])


def test_keep_human_ties_counts_them_as_judge_ties():
    kept = load_dataset(CONV / "pairwise.csv", label_map=LM, keep_ties=True)
    r = _length(factor_scores(kept, n_boot=0))
    # 11 decisive pairs: the longer text wins 9, the shorter 2; the kept tie counts in T
    assert (r.concordant, r.discordant, r.judge_ties) == (9, 2, 1) and r.score == pytest.approx(7 / 12)
    dropped = _length(factor_scores(load_dataset(CONV / "pairwise.csv", label_map=LM), n_boot=0))
    assert dropped.score == pytest.approx(7 / 11) and dropped.judge_ties == 0
    res = runner.invoke(app, ["score", str(CONV / "pairwise.csv"), "--label-map", LM, "--keep-human-ties",
                              "--n-boot", "0"])
    assert res.exit_code == 0, res.output
    assert "kept 1 human ties" in res.output and "0/1/0" in res.output


def test_rows_sharing_a_prompt_form_one_bootstrap_cluster():
    ds = load_dataset(CONV / "pairwise.csv", label_map=LM)
    clusters = ds.clusters()
    assert len(clusters) == 11 and len(set(clusters.values())) == 4  # 4 distinct prompts
    res = factor_scores(ds, n_boot=200)
    assert res.n_examples == 4
    assert "bootstrap clusters: 4" in ds.cluster_note()
    out = runner.invoke(app, ["score", str(CONV / "pairwise.csv"), "--label-map", LM, "--n-boot", "50"])
    assert "bootstrap clusters: 4 (examples with the same input text form one cluster" in out.output


def test_csv_and_jsonl_give_identical_scores():
    kw = dict(label_map=LM, judges="gpt4=gpt4_winner")
    a = load_dataset(CONV / "pairwise.csv", **kw)
    b = load_dataset(CONV / "pairwise.jsonl", **kw)
    for judge in ("human", "gpt4"):
        pd.testing.assert_frame_equal(factor_scores(a, judge=judge, n_boot=300).to_frame(),
                                      factor_scores(b, judge=judge, n_boot=300).to_frame())


def test_unknown_task_on_the_command_line():
    res = runner.invoke(app, ["score", str(CONV / "dpo.jsonl"), "--task", "sumarization", "--n-boot", "0"])
    assert res.exit_code != 0
    assert "unknown task 'sumarization'" in str(res.exception) + res.output


def test_score_out_writes_a_run_directory_the_report_renders(tmp_path):
    """`score --out RUN_DIR` without --group-by: the run's files for the data's own judges, no subgroup table;
    its tables agree with the score files; `report` renders scores, alignment and key findings."""
    from profile_align.report.build import load_run
    from profile_align.report.sections import Omitted, sec_subgroups
    from profile_align.rundir import RunDir

    run_dir = tmp_path / "r"
    res = runner.invoke(app, ["score", str(CONV / "pairwise.csv"), "--label-map", LM, "--judges",
                              "gpt4=gpt4_winner", "--n-boot", "200", "--out", str(run_dir)])
    assert res.exit_code == 0, res.output
    rd = RunDir(run_dir)
    scores = rd.read_scores()
    assert set(scores) == {"human", "gpt4"}
    fs = rd.read_table("tables/factor_scores").set_index(["judge", "factor"])
    for name, r in scores.items():  # the table is the score files' to_frame, rank uncertainty included
        row = fs.loc[(name, "length")]
        assert row["score"] == r["length"] and row["rank_kept"] == r.to_frame()["rank_kept"][0]
    al = rd.read_table("tables/alignment")
    assert list(al["judge"]) == ["gpt4"] and "need at least 3" in al["note"][0]  # one rule factor: no tau
    m = rd.read_manifest()
    assert m["status"] == "complete" and [j["name"] for j in m["judges"]] == ["human", "gpt4"]
    assert not rd.has_table("tables/group_scores")
    with pytest.raises(Omitted):
        sec_subgroups(load_run(run_dir))
    rep = runner.invoke(app, ["report", str(run_dir)])
    assert rep.exit_code == 0, rep.output
    html = (run_dir / "report.html").read_text()
    assert ">Key findings<" in html and ">Data overview<" in html and "gpt4: undefined: only 1 factor" in html
