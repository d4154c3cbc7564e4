"""logprob-check and selfguide-export on a fake-backend run whose answers are known.

The fake generator writes 4*s words for target score s (the same text for every example); the fake
evaluator prefers the text whose word count is closer to ten (a tie when equally close), so per example
its 10 pairs give: longer text chosen 2, shorter chosen 6, ties 2 (lengths 4, 8, 12, 16, 20).
"""

import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from profile_align.backends.fake import FakeBackend, last_user
from profile_align.backends.scoring import LogprobsNotSupported
from profile_align.experiments.logprob import run_logprob_check
from profile_align.experiments.selfguide import balance_pairs, run_selfguide
from profile_align.rundir import RunDir


def texts_of(u):
    t1 = u.split("Summary 1:\n", 1)[1].split("\n\nSummary 2:")[0]
    t2 = u.split("Summary 2:\n", 1)[1].split("\n\nReply")[0]
    return t1, t2


def text_for(score):
    return " ".join(f"w{i}" for i in range(4 * score))


def rule(req):
    u = last_user(req)
    if req.prompt_type == "pairwise_eval":
        d1, d2 = (abs(len(t.split()) - 10) for t in texts_of(u))
        better = "1" if d1 < d2 else "2" if d2 < d1 else "Tie"
        return {"better": better, "justification": f"closer to ten words ({d1} vs {d2})"}
    if req.prompt_type == "scored_generation_level":
        return {"text": text_for(int(re.search(r"would get the score (\d+) on a scale", u).group(1)))}
    if req.prompt_type == "scored_generation":  # one call for all k outputs (the default)
        return {"outputs": [{"score": s, "text": text_for(s)} for s in range(1, 6)]}
    raise AssertionError(f"unexpected prompt type {req.prompt_type}")


CONFIG = {
    "name": "later",
    "dataset": {"source": "summeval"},
    "sample": {"examples": 3, "pairs_per_example": 2, "seed": 1},
    "factors": {"names": ["length", "n_novel_words"]},
    "judges": [{"model": "fakej", "name": "fk", "generation": {"max_words": 60}}],
    "stats": {"n_boot": 20, "difference_boot": 20},
}

# target score -> one-token log-probability: Pearson with 1..5 is 0.8, Kendall 0.6 (8 of 10 pairs concordant)
LOGPROBS = {1: -5.0, 2: -3.0, 3: -4.0, 4: -1.0, 5: -2.0}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from profile_align.pipeline import run

    out = tmp_path_factory.mktemp("later")
    run(CONFIG, out, backends={"fakej": FakeBackend("json", rule=rule, model_id="fake-judge")},
        progress=False, print_summary=False)
    return RunDir(out)


def scorer():
    return FakeBackend("json", rule=rule, model_id="fake-judge",
                       prompt_logprobs={text_for(s): [lp] for s, lp in LOGPROBS.items()})


def test_logprob_check_hand_computed_correlations(run_dir):
    res = run_logprob_check(run_dir, model=scorer(), n_boot=200, progress=False)
    assert len(res.outputs) == 15 and set(res.outputs["target_score"]) == {1, 2, 3, 4, 5}
    c = res.correlations.set_index(["measure", "method"])
    for m in ("logprob", "logprob_per_token"):
        assert c.loc[(m, "pearson"), "r"] == pytest.approx(0.8)
        assert c.loc[(m, "kendall"), "r"] == pytest.approx(0.6)  # 72 concordant, 18 discordant of 90 untied
        assert c.loc[(m, "kendall_within"), "r"] == pytest.approx(0.6)
        # every example is the same: resampling examples cannot move the correlation
        assert c.loc[(m, "pearson"), "ci_low"] == pytest.approx(0.8) and c.loc[(m, "pearson"), "ci_high"] == pytest.approx(0.8)
    assert set(c["n_examples"]) == {3}
    # the prompt has no score instruction
    assert (run_dir / "logprob/correlations.csv").exists()
    rows = run_dir.read_json("logprob/summary.json")["generators"][0]["usage"]["rows"]
    assert [r["prompt_type"] for r in rows] == ["continuation_logprob"] and rows[0]["requests"] == 15
    # again: all from the run directory's cache
    again = scorer()
    run_logprob_check(run_dir, model=again, n_boot=50, progress=False)
    assert again.calls == 0


def test_logprob_prompt_has_no_score_instruction(run_dir):
    seen = []

    def lp(messages, reply):
        seen.append(messages)
        return [-1.0]

    run_logprob_check(run_dir, model=FakeBackend("json", model_id="other", prompt_logprobs=lp), n_boot=10,
                      limit=1, progress=False)
    assert len(seen) == 5
    user = seen[0][-1]["content"]
    assert "would get the score" not in user and "JSON" not in user and "Article:" in user
    assert " 60 words" in user  # the generator's length limit stays


def test_logprob_unsupported_backend_is_a_clear_error(run_dir):
    with pytest.raises(LogprobsNotSupported, match="cannot return the log-probability"):
        run_logprob_check(run_dir, model=FakeBackend("json"), progress=False)
    from profile_align.cli import app

    r = CliRunner().invoke(app, ["logprob-check", str(run_dir.path), "--model", "fake:json"])
    assert r.exit_code == 2 and "cannot return the log-probability" in r.output
    assert "Traceback" not in r.output


def evaluator():
    return FakeBackend("json", rule=rule, model_id="fake-judge")


def test_selfguide_export_counts_and_residual_scores(run_dir, tmp_path):
    res = run_selfguide(run_dir, evaluator=evaluator(), n_boot=50, progress=False)
    s = res.summary
    assert s["n_pairs_judged"] == 30 and s["n_ties"] == 6 and s["n_decided"] == 24 and s["n_exported"] == 24
    assert s["direction_judged"] == {"chosen_higher": 6, "chosen_lower": 18, "equal": 0, "unknown": 0}
    sc = res.factor_scores.set_index(["set", "factor"])["score"]
    assert sc[("judged", "length")] == pytest.approx((6 - 18) / 24)
    row = res.pairs.iloc[0]
    assert row["verdict"] in ("a", "b") and row["justification"].startswith("closer to ten words")
    assert abs(len(row["chosen"][0]["content"].split()) - 10) < abs(len(row["rejected"][0]["content"].split()) - 10)
    assert row["chosen_length"] != row["rejected_length"]
    assert "would get the score" not in row["prompt"][-1]["content"] and "JSON" not in row["prompt"][-1]["content"]
    # the files load with Hugging Face datasets, with TRL's DPO columns
    datasets = pytest.importorskip("datasets")
    for kind in ("json", "parquet"):
        path = s["files"]["jsonl" if kind == "json" else "parquet"]
        d = datasets.load_dataset(kind, data_files=path, split="train", cache_dir=str(tmp_path / "hf"))
        assert {"prompt", "chosen", "rejected", "justification", "chosen_length", "weight"} <= set(d.column_names)
        assert len(d) == 24 and d[0]["chosen"][0]["role"] == "assistant"


def test_selfguide_balancing_by_counting(run_dir):
    eq = run_selfguide(run_dir, evaluator=evaluator(), balance="equal-wins", n_boot=50, progress=False)
    assert eq.summary["direction_exported"] == {"chosen_higher": 6, "chosen_lower": 6, "equal": 0, "unknown": 0}
    assert eq.factor_scores.set_index(["set", "factor"])["score"][("exported", "length")] == pytest.approx(0.0)
    # matched within 34%: only 12 vs 16 words and 16 vs 20 words, and the shorter one wins both
    m = run_selfguide(run_dir, evaluator=evaluator(), balance="matched", tolerance=0.34, n_boot=50, progress=False)
    assert m.summary["n_exported"] == 6 and m.summary["direction_exported"]["chosen_lower"] == 6
    # weights instead of dropping: longer-wins pairs weigh 2, shorter-wins 2/3; weighted length score 0
    w = run_selfguide(run_dir, evaluator=evaluator(), weight="balance", fmt="standard", n_boot=50, progress=False)
    assert w.summary["n_exported"] == 24
    lw = w.pairs.assign(up=w.pairs["chosen_length"] > w.pairs["rejected_length"]).groupby("up")["weight"].unique()
    assert lw[True] == pytest.approx([2.0]) and lw[False] == pytest.approx([2.0 / 3])
    ws = w.factor_scores.set_index(["set", "factor"])["weighted_score"]
    assert ws[("exported", "length")] == pytest.approx(0.0)
    assert isinstance(w.pairs.iloc[0]["prompt"], str) and isinstance(w.pairs.iloc[0]["chosen"], str)
    line = json.loads(open(w.summary["files"]["jsonl"]).readline())
    assert set(line) >= {"prompt", "chosen", "rejected", "weight"}


def test_guidance_sentence_reaches_the_evaluator(run_dir):
    seen = []

    def spy(req):
        seen.append(last_user(req))
        return rule(req)

    run_selfguide(run_dir, evaluator=FakeBackend("json", rule=spy, model_id="spy"), guidance_factor="length",
                  limit=1, n_boot=20, progress=False)
    assert seen and all("Do not prefer a text because it is longer or shorter" in u for u in seen)


def test_balance_pairs_unit():
    c = np.array([1.0, 2.0, 3.0, 5.0, np.nan])
    r = np.array([2.0, 1.0, 1.0, 5.0, 1.0])
    keep = balance_pairs(c, r, how="equal-wins", seed=3)
    assert keep.tolist()[3] and not keep[4] and keep[0] and keep[[1, 2]].sum() == 1
    assert balance_pairs(c, r, how="matched", tolerance=0.5).tolist() == [True, True, False, True, False]
    with pytest.raises(ValueError):
        balance_pairs(c, r, how="bogus")


def test_report_sections(run_dir):
    from profile_align.report import build_report

    run_logprob_check(run_dir, model=scorer(), n_boot=50, progress=False)
    run_selfguide(run_dir, evaluator=evaluator(), balance="equal-wins", n_boot=20, progress=False)
    rep = build_report(run_dir.path)
    assert not rep.errors
    secs = {s.id: s for s in rep.sections}
    assert secs["logprob"].present and secs["selfguide"].present
    lp = secs["logprob"].blocks[1]
    pear = next(r for r in lp.rows if r[1] == "logprob" and r[2] == "pearson")
    assert pear[3:] == ["0.8", "[0.800, 0.800]", "15", "3"]
    kv = dict(secs["selfguide"].blocks[0].items)
    assert kv["n exported"] == "12" and kv["balance"] == "equal-wins"


def test_report_sections_omitted_without_results(tmp_path):
    from profile_align.report.section_later import sec_logprob
    from profile_align.report.sections import Omitted

    class Run:
        path = tmp_path

    with pytest.raises(Omitted, match="logprob/summary.json"):
        sec_logprob(Run())


def test_guidance_auto_uses_guide_mis(run_dir):
    from profile_align.experiments.guide_stats import choose_factors, guidance_sentences
    from profile_align.stats import compare_judges

    sc = run_dir.read_scores()
    expect = choose_factors(compare_judges(sc["fk:evaluation"], sc["human"], seed=0).to_frame(), seed=0).mis
    seen = []

    def spy(req):
        seen.append(last_user(req))
        return rule(req)

    if expect is None:  # the guide experiment's rule finds no factor: a clear error, no guessed factor
        with pytest.raises(ValueError, match="cannot choose a guidance factor"):
            run_selfguide(run_dir, evaluator=FakeBackend("json", rule=spy, model_id="spy2"), guidance_factor="auto",
                          limit=1, n_boot=20, progress=False)
        assert not seen
        return
    res = run_selfguide(run_dir, evaluator=FakeBackend("json", rule=spy, model_id="spy2"), guidance_factor="auto",
                        limit=1, n_boot=20, progress=False)
    assert res.summary["guidance_factor"] == expect
    assert seen and all(guidance_sentences()[expect] in u for u in seen)


def test_refresh_asks_each_order_once(run_dir):
    fake = evaluator()
    res = run_selfguide(run_dir, evaluator=fake, limit=1, cache_mode="refresh", n_boot=20, progress=False)
    assert res.summary["n_pairs_judged"] == 10
    assert fake.calls == 20  # both orders of 10 pairs; the justifications were read back, not asked again
    assert all(j.startswith("closer to ten words") for j in res.pairs["justification"])
