import numpy as np
import pytest

import profile_align as pa
from profile_align.data.dataset import Dataset
from profile_align.data.model import Example, Output, Pair, Preference
from profile_align.scoring import default_policy


def toy(model_verdicts):
    # 4 examples, one pair each; output A is always longer
    exs = [Example(f"e{i}", "summarization", "source text") for i in range(4)]
    outs = [o for i in range(4) for o in (Output(f"a{i}", f"e{i}", "one two three four"), Output(f"b{i}", f"e{i}", "one two"))]
    pairs = [Pair(f"p{i}", f"e{i}", f"a{i}", f"b{i}") for i in range(4)]
    prefs = [Preference(f"p{i}", "human", v) for i, v in enumerate("aaab")]
    prefs += [Preference(f"p{i}", "model", v) for i, v in enumerate(model_verdicts)]
    return Dataset("toy", "summarization", exs, outs, pairs, prefs)


def test_factor_scores_hand_worked():
    ds = toy(["a", "tie", "a", "a"])
    h = pa.factor_scores(ds, judge="human", factors=["length"], n_boot=0)
    assert h["length"] == pytest.approx((3 - 1) / 4)
    m = pa.factor_scores(ds, judge="model", factors=["length"], n_boot=0)
    # model ties once: evaluation policy (tie counts in T): (3 - 0) / 4
    assert m["length"] == pytest.approx(3 / 4)
    assert m.to_frame().loc[0, "judge_ties"] == 1


def test_default_policy():
    assert default_policy("human", np.array([1, -1])) == "human"
    assert default_policy("gpt", np.array([1, 0])) == "evaluation"
    assert default_policy("gpt", np.array([1, -1])) == "generation"


def test_agreement_between_judges():
    ds = toy(["a", "tie", "a", "a"])
    ag = pa.agreement(ds, "human", "model")
    # same on p0, p2; tie vs a on p1 (disagree by default); a vs b on p3
    assert ag.n == 4 and ag.agreement == pytest.approx(0.5)
    ex = pa.agreement(ds, "human", "model", ties="exclude")
    assert ex.agreement == pytest.approx(2 / 3)


def test_missing_factor_values_are_excluded_and_counted():
    ds = toy(["a", "a", "a", "a"])
    table = pa.compute_factors(ds, ["length"])
    table.values.loc["a0", "length"] = np.nan
    r = pa.factor_scores(ds, table, factors=["length"], n_boot=0)
    row = r.to_frame().iloc[0]
    assert row["missing"] == 1 and row["n_used"] == 3
    assert r["length"] == pytest.approx((2 - 1) / 3)


def test_name_labels_the_result():
    ds = toy(["a", "a", "a", "a"])
    assert pa.factor_scores(ds, judge="model", factors=["length"], n_boot=0, name="gpt-eval").judge == "gpt-eval"
