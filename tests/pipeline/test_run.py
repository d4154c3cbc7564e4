import json
import re

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from profile_align.backends.fake import FakeBackend, last_user
from profile_align.cli import app
from profile_align.pipeline import ConfigError, load_config, run
from profile_align.rundir import ANSWER_COLUMNS, RunDir


def rule(req):
    u = last_user(req)
    if req.prompt_type == "pairwise_eval":
        t1 = u.split("Summary 1:\n", 1)[1].split("\n\nSummary 2:")[0]
        t2 = u.split("Summary 2:\n", 1)[1].split("\n\nReply")[0]
        n1, n2 = len(t1.split()), len(t2.split())
        return {"better": "1" if n1 > n2 else "2" if n2 > n1 else "Tie", "justification": "more detail"}
    if req.prompt_type == "scored_generation_level":
        s = int(re.search(r"would get the score (\d+) on a scale", u).group(1))
        return {"text": " ".join(f"w{i}" for i in range(4 * s))}
    if req.prompt_type == "scored_generation":
        return {"outputs": [{"score": s, "text": "v " * (3 * s)} for s in (2, 5, 1, 4, 3)]}
    raise AssertionError(f"unexpected prompt type {req.prompt_type}")


CONFIG = {
    "name": "fake-e2e",
    "dataset": {"source": "summeval"},
    "sample": {"examples": 3, "pairs_per_example": 5, "seed": 1},
    "factors": {"names": ["length", "novel_words", "n_novel_words"]},
    "judges": [{"model": "fakej", "name": "fk", "generation": {"variant": "per-level"}},
               {"model": "fakej", "name": "fk1", "settings": ["generation"]}],  # one-call: the default
    "stats": {"n_boot": 50, "difference_boot": 50},
}


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    fb = FakeBackend("json", rule=rule, model_id="fake-judge")
    res = run(CONFIG, out, backends={"fakej": fb}, progress=False, print_summary=False)
    return out, fb, res, fb.calls


def test_manifest(first_run):
    out, fb, res, calls = first_run
    m = json.loads((out / "manifest.json").read_text())
    assert m["status"] == "complete" and re.fullmatch(r"[0-9a-f]{16}", m["config_hash"])
    assert m["config"]["name"] == "fake-e2e" and m["seeds"] == {"sample": 1, "bootstrap": 0, "generation": 0}
    assert m["dataset"]["n_examples"] == 3 and m["dataset"]["n_pairs"] == 15
    assert m["dataset"]["n_generated_outputs"] == 30
    judges = {j["name"]: j for j in m["judges"]}
    assert set(judges) == {"human", "fk:evaluation", "fk:generation", "fk1:generation"}
    assert judges["fk:evaluation"]["policy"] == "evaluation" and judges["fk:evaluation"]["both_orders"] is True
    assert judges["fk:generation"]["variant"] == "per-level" and judges["fk1:generation"]["variant"] == "one-call"
    assert judges["fk:generation"]["n_pairs"] == 30 and judges["human"]["policy"] == "human"
    assert m["failures"]["evaluation/pairwise_eval"] == {"requests": 30, "failed": 0, "parse_failed": 0}
    assert m["failures"]["generation/scored_generation_level"]["requests"] == 15
    assert m["usage"]["requests"] == calls == 30 + 15 + 3 and m["usage"]["cached"] == 0
    assert m["factors"]["names"] == ["length", "novel_words", "n_novel_words"]
    assert set(m["timings"]) >= {"load", "factors", "generation", "evaluation", "stats", "total"}
    assert "llama-cpp-python" in m["versions"] or "numpy" in m["versions"]
    assert (out / "config.yaml").exists() and (out / "cache.sqlite").exists() and (out / "usage.json").exists()


def test_tables(first_run):
    out, fb, res, calls = first_run
    rd = RunDir(out)
    fs = rd.read_table("tables/factor_scores")
    assert set(fs["judge"]) == {"human", "fk:evaluation", "fk:generation", "fk1:generation"}
    assert (out / "tables" / "factor_scores.csv").exists()
    gen = fs[(fs["judge"] == "fk:generation") & (fs["factor"] == "length")].iloc[0]
    assert gen["score"] == pytest.approx(1.0) and gen["policy"] == "generation"  # longer = higher score, by rule
    ev = fs[(fs["judge"] == "fk:evaluation") & (fs["factor"] == "length")].iloc[0]
    assert ev["score"] > 0.9 and ev["policy"] == "evaluation"
    al = rd.read_table("tables/alignment").set_index("judge")
    assert set(al.index) == {"fk:evaluation", "fk:generation", "fk1:generation"}
    assert al.loc["fk:evaluation", "n_agreement_pairs"] == 15 and 0 <= al.loc["fk:evaluation", "agreement"] <= 1
    assert al.loc["fk:generation", "n_agreement_pairs"] == 0  # generated pairs are not the human's
    assert al.loc["fk:evaluation", "n_factors"] == 3
    bias = rd.read_table("tables/evaluator_bias")
    assert list(bias["judge"]) == ["fk:evaluation"] and bias["flip_rate"].iloc[0] == 0.0
    diff = rd.read_table("tables/differences")
    assert set(diff["judge"]) == set(al.index) and len(diff) == 9
    ans = rd.read_answers()
    assert list(ans.columns) == list(ANSWER_COLUMNS)
    assert (ans["stage"] == "evaluation").sum() == 30 and set(ans[ans["stage"] == "evaluation"]["variant"]) == {"AB", "BA"}
    assert (ans["stage"] == "generation").sum() == 15 + 15
    ds = rd.read_dataset()
    producers = pd.Series([o.producer for o in ds.outputs])
    assert (producers == "fk:generation").sum() == 15 and (producers == "fk1:generation").sum() == 15
    assert set(rd.read_scores()) == {"human", "fk:evaluation", "fk:generation", "fk1:generation"}
    factors = rd.read_factors()
    assert len(factors) == len(ds.outputs)


def test_resume_makes_zero_new_calls(first_run, capsys):
    out, fb, res, calls = first_run
    before = (out / "tables" / "factor_scores.csv").read_text()
    res2 = run(CONFIG, out, backends={"fakej": fb}, progress=False)
    assert fb.calls == calls  # nothing sent to the backend again
    m = json.loads((out / "manifest.json").read_text())
    assert m["usage"]["new_requests"] == 0 and m["usage"]["cached"] == calls
    assert (out / "tables" / "factor_scores.csv").read_text() == before
    assert res2.ok
    text = capsys.readouterr().out
    assert "judges vs human" in text and "factor scores" in text and "alignment tau" in text
    al = pd.read_csv(out / "tables" / "alignment.csv")  # the tau CI and the rank stability are printed
    assert al["kendall_ci_low"].notna().any() and "kept" in text
    assert "key findings per judge" in text and "human: strongest factor" in text
    assert "in decisive pairs the text with more" in text  # the plain-language readings of `score`


def test_refresh_calls_again(first_run, tmp_path):
    out, fb, res, calls = first_run
    fb2 = FakeBackend("json", rule=rule, model_id="fake-judge")
    run(CONFIG, out, backends={"fakej": fb2}, progress=False, print_summary=False, refresh=True)
    assert fb2.calls == calls


def test_failures_over_threshold_and_cli_exit_codes(tmp_path):
    cfg = {**CONFIG, "judges": [{"model": "fake:malformed", "name": "bad", "settings": ["evaluation"]}],
           "sample": {"examples": 1, "pairs_per_example": 3}}
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(cfg))
    r = CliRunner().invoke(app, ["run", str(p), "--out", str(tmp_path / "r"), "--quiet"])
    assert r.exit_code == 4, r.output  # EXIT_FAILURE_RATE
    m = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert m["failures"]["evaluation/pairwise_eval"] == {"requests": 6, "failed": 0, "parse_failed": 6}
    assert m["status"] == "partial" and "evaluation/pairwise_eval" in m["over_threshold"]
    assert "bad:evaluation" in r.output  # the failure reasons are printed


def test_cli_constant_judge_flag(tmp_path):
    cfg = {**CONFIG, "judges": [{"model": "fake:json", "name": "const", "generation": {"variant": "per-level"}}], "sample": {"examples": 2, "pairs_per_example": 4}}
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(cfg))
    r = CliRunner().invoke(app, ["run", str(p), "--out", str(tmp_path / "r"), "--quiet"])
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "r" / "manifest.json").read_text())
    flags = {f["flag"] for f in m["flags"]}
    assert "duplicate_generations" in flags and flags & {"constant_judge", "position_only"}
    assert (tmp_path / "r" / "diagnostics.json").exists() and (tmp_path / "r" / "report.html").exists()
    r = CliRunner().invoke(app, ["run", str(p), "--out", str(tmp_path / "r"), "--quiet", "--strict"])
    assert r.exit_code == 3, r.output
    gen = next(j for j in m["judges"] if j["name"] == "const:generation")
    assert gen["n_pairs"] == 0 and gen["n_identical_text_pairs"] == 20  # every score got the same text


def test_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="judges.0.settngs"):
        load_config({**CONFIG, "judges": [{"model": "x", "settngs": ["evaluation"]}]})
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="unique"):
        load_config({**CONFIG, "judges": [{"model": "x"}, {"model": "x"}]})
    p = tmp_path / "e.yaml"
    p.write_text("dataset: {source: summeval}\njudges: [{model: x, generation: {variant: five}}]\n")
    r = CliRunner().invoke(app, ["run", str(p)])
    assert r.exit_code == 2 and "variant" in r.output


@pytest.mark.parametrize("path", ["examples/demo.yaml", "examples/tldr_axis.yaml", "examples/shp_askacademia.yaml",
                                  "examples/webgpt.yaml"])
def test_example_configs_validate(path):
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    cfg = load_config(root / path)
    assert cfg.judges


def test_manifest_and_report_say_which_generation_protocol_ran(first_run):
    out, fb, res, calls = first_run
    judges = {j["name"]: j for j in json.loads((out / "manifest.json").read_text())["judges"]}
    assert judges["fk1:generation"]["variant"] == "one-call" and judges["fk1:generation"]["max_words"] is None
    from profile_align.report import load_run

    protocols = {j.name: j.protocol for j in load_run(out).judges}
    assert protocols["fk1:generation"] == "one-call, k = 5, no rubric, no length limit"
    assert protocols["fk:generation"] == "per-level, k = 5, no rubric, no length limit"
    assert protocols["fk:evaluation"] is None
    if res.report_path is not None:
        assert "one-call, k = 5, no rubric, no length limit" in res.report_path.read_text(encoding="utf-8")
