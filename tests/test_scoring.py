import numpy as np
import pytest

import profile_align as pa
from profile_align.data.dataset import Dataset
from profile_align.data.model import Example, Output, Pair, Preference
from profile_align.scoring import UnknownJudgeKind, default_policy


def toy(model_verdicts, model="model"):
    # 4 examples, one pair each; output A is always longer
    exs = [Example(f"e{i}", "summarization", "source text") for i in range(4)]
    outs = [o for i in range(4) for o in (Output(f"a{i}", f"e{i}", "one two three four"), Output(f"b{i}", f"e{i}", "one two"))]
    pairs = [Pair(f"p{i}", f"e{i}", f"a{i}", f"b{i}") for i in range(4)]
    prefs = [Preference(f"p{i}", "human", v) for i, v in enumerate("aaab")]
    prefs += [Preference(f"p{i}", model, v) for i, v in enumerate(model_verdicts)]
    return Dataset("toy", "summarization", exs, outs, pairs, prefs)


def test_factor_scores_hand_worked():
    ds = toy(["a", "tie", "a", "a"])
    h = pa.factor_scores(ds, judge="human", factors=["length"], n_boot=0)
    assert h["length"] == pytest.approx((3 - 1) / 4)
    m = pa.factor_scores(ds, judge="model", factors=["length"], n_boot=0, kind="evaluation")
    # model ties once: evaluation policy (tie counts in T): (3 - 0) / 4
    assert m["length"] == pytest.approx(3 / 4)
    assert m.to_frame().loc[0, "judge_ties"] == 1


def test_default_policy_follows_the_judge_kind_not_its_verdicts():
    assert default_policy("human") == "human"
    assert default_policy("gpt:evaluation") == "evaluation"
    assert default_policy("rm:tulu") == "evaluation"
    assert default_policy("gpt:generation") == "generation"
    assert default_policy("gpt", kind="evaluation") == "evaluation"
    with pytest.raises(UnknownJudgeKind, match="cannot tell the kind of judge 'gpt'"):
        default_policy("gpt")
    # an evaluator that never said Tie still gets the evaluation rule (the old rule gave "generation")
    ds = toy(["a", "a", "a", "a"], model="gpt:evaluation")
    assert pa.factor_scores(ds, judge="gpt:evaluation", factors=["length"], n_boot=0).policy.name == "evaluation"


def test_human_default_omits_factor_tied_pairs_and_factor_ties_counted_keeps_them():
    # p0..p3 as in toy(); p4: human prefers A, both outputs have the same length (a factor tie)
    ds = toy(["a", "a", "a", "a"])
    ds = Dataset(ds.name, ds.task, [*ds.examples, Example("e4", "summarization", "source")],
                 [*ds.outputs, Output("a4", "e4", "one two"), Output("b4", "e4", "six ten")],
                 [*ds.pairs, Pair("p4", "e4", "a4", "b4")], [*ds.preferences, Preference("p4", "human", "a")])
    h = pa.factor_scores(ds, factors=["length"], n_boot=0)
    assert h.policy.name == "human" and h["length"] == pytest.approx((3 - 1) / 4)  # tied pair omitted
    row = h.to_frame().iloc[0]
    assert row["policy"] == "human" and "factor-tied pairs omitted" in row["tie_rule"]
    c = pa.factor_scores(ds, factors=["length"], n_boot=0, policy="factor-ties-counted")
    assert c["length"] == pytest.approx((3 - 1) / 5)
    assert c.to_dict()["policy_name"] == "factor-ties-counted" and "strength" in c.to_dict()["tie_rule"]


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
    assert pa.factor_scores(ds, judge="model", factors=["length"], n_boot=0, name="gpt-eval",
                            policy="evaluation").judge == "gpt-eval"


def test_score_cli_tie_policy_is_stated_and_written_in_words(tmp_path):
    from typer.testing import CliRunner

    from profile_align.cli import app

    runner = CliRunner()
    auto = runner.invoke(app, ["score", "summeval", "--n-boot", "0", "-o", str(tmp_path / "auto.json")])
    assert auto.exit_code == 0, auto.output
    text = " ".join(auto.output.split())  # the title wraps in a narrow terminal
    assert "tie policy human: human rule" in text and "(auto: judge kind human)" in text
    assert "+nan" not in text  # no bootstrap: no CI, not "[+nan, +nan]"
    counted = runner.invoke(app, ["score", "summeval", "--n-boot", "0", "--tie-policy", "factor-ties-counted",
                                  "-o", str(tmp_path / "counted.csv")])
    assert counted.exit_code == 0, counted.output
    text = " ".join(counted.output.split())
    assert "tie policy factor-ties-counted: factor ties counted" in text and "(chosen)" in text
    import json

    import pandas as pd

    a = json.loads((tmp_path / "auto.json").read_text())
    assert a["policy_name"] == "human" and "factor-tied pairs omitted" in a["tie_rule"]
    c = pd.read_csv(tmp_path / "counted.csv")
    assert set(c["policy"]) == {"factor-ties-counted"} and c["tie_rule"].str.contains("strength").all()
    # same pairs, different rule: the counted denominator is larger wherever the factor ties
    n_auto = {f: n for f, n in zip(a["factor_names"], pa.FactorScoreResult.from_dict(a).to_frame()["n_used"])}
    for r in c.itertuples():
        assert r.n_used == n_auto[r.factor] + r.factor_ties
    bad = runner.invoke(app, ["score", "summeval", "--n-boot", "0", "--tie-policy", "nope"])
    assert bad.exit_code != 0
