"""improve: tau_evaluator compares with the evaluator that gave the feedback, not the run's first judge."""

import pytest

from profile_align.backends.fake import SCRIPTS, script
from profile_align.experiments.improve import feedback_judge, run_improve
from profile_align.rundir import RunDir


def texts_of(u):
    t1 = u.split("Summary 1:\n", 1)[1].split("\n\nSummary 2:")[0]
    t2 = u.split("Summary 2:\n", 1)[1].split("\n\nReply")[0]
    return t1, t2


def make_rule(prefer_longer: bool):
    from profile_align.backends.fake import last_user

    def rule(req, backend=None):
        u = last_user(req)
        if req.prompt_type == "pairwise_eval":
            n1, n2 = (len(t.split()) for t in texts_of(u))
            if not prefer_longer:
                n1, n2 = n2, n1
            return {"better": "1" if n1 > n2 else "2" if n2 > n1 else "Tie", "justification": "the other one"}
        if req.prompt_type == "improve_draft":
            return {"text": "short draft" if req.seed % 2 else "another short draft text"}
        if req.prompt_type in ("improve_feedback", "improve_both", "improve_one"):
            return {"text": "a much longer improved text " * 5}
        raise AssertionError(req.prompt_type)

    return rule


@pytest.fixture(scope="module")
def two_evaluators(tmp_path_factory):
    from profile_align.pipeline import run

    for name, longer in (("imp-long", True), ("imp-short", False)):
        if name not in SCRIPTS:
            script(name)(make_rule(longer))
    out = tmp_path_factory.mktemp("two")
    cfg = {"name": "two", "dataset": {"source": "summeval"},
           "sample": {"examples": 4, "pairs_per_example": 5, "seed": 3},
           "factors": {"names": ["length", "novel_words", "n_novel_words"]},
           "judges": [{"model": "fake:imp-long", "name": "long", "settings": ["evaluation"]},
                      {"model": "fake:imp-short", "name": "short", "settings": ["evaluation"]}],
           "stats": {"n_boot": 0, "difference_boot": 10}}
    run(cfg, out, progress=False, print_summary=False)
    return RunDir(out)


def test_tau_evaluator_uses_the_feedback_giver(two_evaluators):
    rd = two_evaluators
    scores = rd.read_scores()
    # the two evaluators prefer opposite texts: their length scores have opposite signs
    assert scores["long:evaluation"]["length"] > 0 > scores["short:evaluation"]["length"]
    res = run_improve(rd, generator="fake:imp-long", evaluator="fake:imp-short", n=3, seed=0, progress=False)
    assert res.summary["evaluator_judge"] == "short:evaluation"
    row = res.alignment.set_index("condition").loc["feedback"]
    imp = res.scores[res.scores["condition"] == "feedback"].set_index("factor")["score"]
    want = kendall(imp, scores["short:evaluation"])
    other = kendall(imp, scores["long:evaluation"])
    assert row["tau_evaluator"] == pytest.approx(want, nan_ok=True)
    assert want != pytest.approx(other, nan_ok=True)  # the old code compared with long:evaluation


def test_feedback_judge_lookup_and_unknown_evaluator(two_evaluators):
    rd = two_evaluators
    assert feedback_judge(rd, "fake:imp-long") == ("long:evaluation", "")
    assert feedback_judge(rd, "anything", "short")[0] == "short:evaluation"
    name, note = feedback_judge(rd, "fake:json")
    assert name is None and "not an evaluation judge of this run" in note


def kendall(improvement, judge_scores):
    """Kendall tau of an improvement score vector with a judge's scores over their common factors."""
    from scipy.stats import kendalltau

    common = [f for f in improvement.index if f in judge_scores.factor_names]
    return kendalltau(improvement[common].to_numpy(), [judge_scores[f] for f in common]).statistic
