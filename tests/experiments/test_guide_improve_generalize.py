"""guide / improve / generalize end to end on a fake-backend run whose right answers are known."""

import hashlib
import re

import numpy as np
import pytest

from profile_align.backends import Client
from profile_align.backends.fake import FakeBackend, last_user
from profile_align.experiments.generalize import run_generalize, similarity_by_level
from profile_align.experiments.guide import run_guide
from profile_align.experiments.improve import run_improve
from profile_align.rundir import RunDir

LENGTH_GUIDANCE = "Do not prefer a text because it is longer or shorter"


def texts_of(u):
    t1 = u.split("Summary 1:\n", 1)[1].split("\n\nSummary 2:")[0]
    t2 = u.split("Summary 2:\n", 1)[1].split("\n\nReply")[0]
    return t1, t2


def rule(req):
    u = last_user(req)
    pt = req.prompt_type
    if pt == "pairwise_eval":
        n1, n2 = (len(t.split()) for t in texts_of(u))
        if LENGTH_GUIDANCE in u:  # guided on length, this fake evaluator flips to the shorter text
            n1, n2 = n2, n1
        return {"better": "1" if n1 > n2 else "2" if n2 > n1 else "Tie", "justification": "more detail"}
    if pt == "scored_generation_level":
        s = int(re.search(r"would get the score (\d+) on a scale", u).group(1))
        return {"text": " ".join(f"w{i}" for i in range(4 * s))}
    if pt == "scored_generation":  # one call for all k outputs (the default)
        return {"outputs": [{"score": s, "text": " ".join(f"w{i}" for i in range(4 * s))} for s in range(1, 6)]}
    if pt == "direct_generation":
        return {"text": " ".join(f"w{i}" for i in range(20))}  # exactly the score-5 text
    if pt == "improve_draft":
        return {"text": "short draft" if req.seed % 2 else "another short draft text"}
    if pt in ("improve_feedback", "improve_both", "improve_one"):
        return {"text": "a much longer improved text " * 5}  # the improver always lengthens
    raise AssertionError(f"unexpected prompt type {pt}")


CONFIG = {
    "name": "exp",
    "dataset": {"source": "summeval"},
    "sample": {"examples": 8, "pairs_per_example": 6, "seed": 2},
    "factors": {"names": ["length", "char_parity", "expert_rating"]},
    "judges": [{"model": "fakej", "name": "fk"}],
    "stats": {"n_boot": 50, "difference_boot": 200},
}


def register_test_factors():
    from profile_align.data.loaders import load_dataset
    from profile_align import register_factor

    # a factor unrelated to what either judge prefers, so that GuideRand has a candidate
    register_factor("char_parity", replace=True)(
        lambda text, ex: float(int(hashlib.sha256(text.encode()).hexdigest(), 16) % 2))
    # the experts' own mean rating: the humans' first factor (their preferences are built from it), so the
    # humans rank length lower than the length-loving fake evaluator does -> GuideMis = length
    rating = {o.text: float(np.mean(list(o.metadata["ratings"].values()))) for o in load_dataset("summeval").outputs}
    register_factor("expert_rating", replace=True)(lambda text, ex: rating.get(text, float("nan")))


def unregister_test_factors():
    from profile_align import REGISTRY

    for name in ("char_parity", "expert_rating"):
        if name in REGISTRY:
            REGISTRY.remove(name)


@pytest.fixture(scope="module")
def test_factors():
    register_test_factors()
    yield
    unregister_test_factors()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, test_factors):
    from profile_align.pipeline import run

    out = tmp_path_factory.mktemp("exp")
    run(CONFIG, out, backends={"fakej": FakeBackend("json", rule=rule, model_id="fake-judge")},
        progress=False, print_summary=False)
    return RunDir(out)


def client(rd):
    return Client(FakeBackend("json", rule=rule, model_id="fake-judge"), cache=rd / "cache.sqlite", progress=False)


def test_guide_picks_length_and_measures_the_change(run_dir):
    res = run_guide(run_dir, model=client(run_dir), n=200, seed=0, n_boot=200, progress=False,
                    guidance={"char_parity": "Ignore the parity of the text's hash.", "expert_rating": "Rate well."})
    s = res.summary
    # the fake ranks length first, the humans rank it below the experts' rating: the paper's GuideMis rule
    assert s["guide_mis"]["factor"] == "length" and s["guide_mis"]["rank_model"] == 1
    assert s["guide_mis"]["rank_human"] > 1
    assert "length" not in s["guide_rand"]["pool"] and "char_parity" in s["guide_rand"]["pool"]
    assert s["guide_rand"]["factor"] in s["guide_rand"]["pool"]
    assert s["model"] == "fake-judge"
    ds = run_dir.read_dataset()
    outs = ds.output_map()
    human = {p.pair_id: int(p.verdict) for p in ds.preferences if p.judge == "human"}
    pairs = ds.pair_map()

    def longer(pid):
        a, b = (len(outs[x].text.split()) for x in (pairs[pid].a, pairs[pid].b))
        return 1 if a > b else -1 if b > a else 0

    pp = res.per_pair
    # without guidance the fake picks the longer text (both orders agree); with GuideMis the shorter
    assert all(v == longer(pid) for pid, v in zip(pp["pair_id"], pp["none"]))
    assert all(v == -longer(pid) for pid, v in zip(pp["pair_id"], pp["mis"]))
    ag = dict(zip(res.conditions["condition"], res.conditions["agreement"]))
    expect_none = np.mean([longer(p) == human[p] for p in pp["pair_id"]])
    expect_mis = np.mean([-longer(p) == human[p] for p in pp["pair_id"]])
    assert ag["none"] == pytest.approx(expect_none) and ag["mis"] == pytest.approx(expect_mis)
    assert ag["rand"] == pytest.approx(expect_none)  # guidance on another factor changes nothing here
    assert s["guide_mis"]["sentence"].startswith(LENGTH_GUIDANCE)
    assert 0 <= s["mcnemar_mis_vs_none"]["p_value"] <= 1
    assert (run_dir / "experiments/guide/summary.json").exists()


def test_improve_lengthening_improver_tops_length(run_dir):
    res = run_improve(run_dir, generator=client(run_dir), n=4, seed=0, progress=False, evaluator_judge="fk")
    assert res.summary["n_examples"] == 4
    for cond in ("feedback", "baseline_a", "baseline_b"):
        sc = res.scores[res.scores["condition"] == cond].set_index("factor")
        assert sc.loc["length", "score"] == pytest.approx(1.0)
        assert sc.loc["length", "rank"] == 1
    assert set(res.alignment["condition"]) == {"feedback", "baseline_a", "baseline_b"}
    assert "tau_human" in res.alignment.columns and "tau_evaluator" in res.alignment.columns
    assert res.summary["evaluator_judge"] == "fk:evaluation"
    # a client passed in cannot be matched to a judge of the run: no tau_evaluator, and the summary says so
    anon = run_improve(run_dir, generator=client(run_dir), n=4, seed=0, progress=False)
    assert anon.alignment["tau_evaluator"].isna().all() and "not an evaluation judge" in anon.summary["evaluator_note"]
    assert (run_dir / "experiments/improve/alignment.csv").exists()


def test_generalize_direct_equals_score5(run_dir):
    res = run_generalize(run_dir, model=client(run_dir), progress=False)
    sim = res.similarity.set_index("level")["cosine"]
    assert sim["5"] == pytest.approx(1.0)
    # the fake's score-k texts grow towards the direct text: similarity rises with k (as in the paper)
    assert list(sim.index) == ["1", "2", "3", "4", "5"]
    assert all(sim.iloc[i] <= sim.iloc[i + 1] + 1e-9 for i in range(4)) and sim["1"] < sim["5"]
    assert res.summary["direct_generated_here"] is True


def test_similarity_by_level_hand_worked():
    import pandas as pd

    vals = pd.DataFrame({"f": [0.0, 10.0, 5.0], "g": [1.0, 1.0, 3.0]})
    levels = pd.Series(["direct", "1", "2"])
    # scaled: f -> 0, 1, .5 ; g -> 0, 0, 1  => direct (0,0): zero vector -> NaN cosine
    out = similarity_by_level(vals, levels, ["f", "g"])
    assert out["cosine"].isna().all()
    vals = pd.DataFrame({"f": [10.0, 10.0, 0.0], "g": [3.0, 1.0, 3.0]})
    out = similarity_by_level(vals, levels, ["f", "g"]).set_index("level")["cosine"]
    # direct (1, 1); level 1 (1, 0): cos = 1/sqrt(2); level 2 (0, 1): cos = 1/sqrt(2)
    assert out["1"] == pytest.approx(2 ** -0.5) and out["2"] == pytest.approx(2 ** -0.5)


def test_cli_end_to_end_with_a_scripted_fake_model(tmp_path, test_factors):
    """run -> guide -> improve -> generalize from the command line, the model being `fake:lengthy`."""
    import yaml
    from typer.testing import CliRunner

    from profile_align.backends.fake import SCRIPTS, script
    from profile_align.cli import app

    if "lengthy" not in SCRIPTS:
        script("lengthy")(lambda req, backend: rule(req))
    cfg = {**CONFIG, "factors": {"names": ["length", "novel_words", "expert_rating"]},
           "sample": {"examples": 3, "pairs_per_example": 4, "seed": 0},
           "judges": [{"model": "fake:lengthy", "name": "fk"}], "out_dir": str(tmp_path / "run")}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    r = CliRunner()
    res = r.invoke(app, ["run", str(tmp_path / "c.yaml")])
    assert res.exit_code in (0, 3), res.output  # 3 = flags raised (this fake is a degenerate judge)
    run = str(tmp_path / "run")
    (tmp_path / "g.yaml").write_text("expert_rating: Judge the summary as an expert would.\n")
    res = r.invoke(app, ["guide", run, "--n", "10", "--n-boot", "100", "--guidance", str(tmp_path / "g.yaml")])
    assert res.exit_code == 0, res.output
    assert "GuideMis: length (rank 1 for the model" in " ".join(res.output.split()) and "McNemar" in res.output
    res = r.invoke(app, ["improve", run, "--n", "2"])
    assert res.exit_code == 0, res.output
    assert "feedback" in res.output and "baseline_b" in res.output
    res = r.invoke(app, ["generalize", run])
    assert res.exit_code == 0, res.output
    assert "cosine" in res.output


def test_improve_prompts_carry_no_length_limit_unless_set(run_dir):
    import json

    seen = []

    def recording(req):
        if req.prompt_type.startswith("improve_"):
            seen.append(req)
        return rule(req)

    def run_with(**kw):
        seen.clear()
        c = Client(FakeBackend("json", rule=recording, model_id="fake-judge"), cache_mode="off", progress=False)
        return run_improve(run_dir, generator=c, n=2, seed=0, progress=False, **kw)

    res = run_with()
    assert res.summary["max_words"] is None and {r.prompt_type for r in seen} >= {"improve_draft", "improve_feedback"}
    assert all("maxLength" not in json.dumps(r.json_schema) and " under " not in r.messages[-1]["content"]
               and r.max_tokens == 1024 and r.prompt_version.endswith("@2") for r in seen)
    res = run_with(max_words=40)
    assert res.summary["max_words"] == 40
    assert all("Keep it under 40 words." in r.messages[-1]["content"]
               and r.json_schema["properties"]["text"]["maxLength"] == 360 for r in seen)
