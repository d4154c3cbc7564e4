"""Answer statistics and flag rules on answers tables built directly."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from profile_align.backends import Request, Response
from profile_align.backends.base import RequestFailed
from profile_align.diagnostics import Thresholds, answer_row, answer_stats, diagnose, is_echo
from profile_align.diagnostics.sources import call_stats, read_records
from profile_align.rundir import ANSWER_COLUMNS


def rows(prompt_type, answers, *, variants=None, items=None, model="m", stage="evaluation", valid=None,
         finish=None, echo=None):
    n = len(answers)
    return pd.DataFrame({
        "stage": [stage] * n, "prompt_type": [prompt_type] * n, "model": [model] * n,
        "item_id": items or [f"i{i}" for i in range(n)], "input_key": [f"k{i}" for i in range(n)],
        "variant": variants or [None] * n, "answer": answers,
        "valid": valid or [a is not None for a in answers], "finish_reason": finish or ["stop"] * n,
        "cached": [False] * n, "echo": echo or [False] * n,
    })[list(ANSWER_COLUMNS)]


def pairwise(ab, ba):
    """Answers for pairs p0..: ab[i] in order AB, ba[i] in order BA."""
    n = len(ab)
    return rows("pairwise_eval", [*ab, *ba], variants=["AB"] * n + ["BA"] * n,
                items=[f"p{i}" for i in range(n)] * 2)


def test_pairwise_statistics_are_counted_by_hand():
    # p0: 1/2 consistent (A both), p1: 1/1 position, p2: 2/1 consistent (B), p3: tie/1 flip, p4: 2/2 position
    st = answer_stats(pairwise(["1", "1", "2", "tie", "2"], ["2", "1", "1", "1", "2"])).iloc[0]
    assert st["kind"] == "pairwise" and st["n"] == 10 and st["n_both_orders"] == 5
    assert st["first_position_win_rate"] == pytest.approx(5 / 9)   # "1" among the 9 decisive answers
    assert st["flip_rate"] == pytest.approx(3 / 5)                  # p1, p3, p4 change the winner under swap
    assert st["position_only_rate"] == pytest.approx(2 / 5)         # p1, p4 same label in both orders
    assert st["distribution"] == {"1": 0.5, "2": 0.4, "tie": 0.1}
    assert st["distinct_answers"] == 3 and st["distinct_inputs"] == 10


def test_index_correlation_of_per_fact_verdicts():
    ans = ["yes", "yes", "no", "no"] * 5
    st = answer_stats(rows("fact_support", ans, variants=[0, 1, 2, 3] * 5, stage="factors")).iloc[0]
    assert st["kind"] == "per_item" and st["n_index"] == 20
    assert st["index_corr"] == pytest.approx(-0.894, abs=1e-3)
    report = diagnose(rows("fact_support", ans, variants=[0, 1, 2, 3] * 5, stage="factors"))
    assert [f.flag for f in report.flags] == ["position_only"]
    # shuffled w.r.t. the index: no flag
    mixed = ["yes", "no", "no", "yes", "no", "yes", "yes", "no"] * 3
    assert diagnose(rows("fact_support", mixed, variants=[0, 1, 2, 3] * 6, stage="factors")).flags == []


def test_generation_target_score_is_not_read_as_a_fact_index():
    st = answer_stats(rows("scored_generation", [str(s) for s in [1, 2, 3, 4, 5] * 3],
                           variants=[1, 2, 3, 4, 5] * 3, stage="generation")).iloc[0]
    assert st["kind"] == "single" and math.isnan(st["index_corr"])


def test_constant_needs_enough_answers_and_respects_overrides():
    few = diagnose(rows("receptiveness", ["yes"] * 5))
    assert few.flags == [] and any("only 5 valid answers" in n for n in few.notes)
    many = rows("receptiveness", ["yes"] * 49 + ["no"])
    assert [f.flag for f in diagnose(many).flags] == ["constant_judge"]            # 98% >= 0.98
    th = Thresholds(overrides={"receptiveness": {"constant_share": 1.0}})
    assert diagnose(many, thresholds=th).flags == []
    assert diagnose(rows("receptiveness", ["yes"] * 45 + ["no"] * 5)).flags == []  # 90%


def test_thresholds_reject_unknown_keys_and_bad_values():
    with pytest.raises(ValueError, match="unknown diagnostics threshold"):
        Thresholds.from_mapping({"constant_shares": 0.9})
    with pytest.raises(ValueError, match="within 0..1"):
        Thresholds(echo_rate=2.0)
    with pytest.raises(ValueError, match="unknown threshold"):
        Thresholds(overrides={"x": {"nope": 1}})


def test_echo_flag_and_suppression_of_constant():
    df = rows("atomic_facts", ['{"facts": ["A."]}'] * 12, echo=[True] * 12, stage="factors")
    assert [f.flag for f in diagnose(df).flags] == ["echoing_judge"]
    df2 = rows("atomic_facts", [f"a{i}" for i in range(20)], echo=[True] * 3 + [False] * 17)
    assert diagnose(df2).flags == []                                                # 15% < 20%


def test_constant_first_position_is_reported_as_position_only():
    report = diagnose(pairwise(["1"] * 6, ["1"] * 6))
    assert [f.flag for f in report.flags] == ["position_only"]
    assert report.flags[0].counts["n_same_position"] == 6
    assert report.flags[0].evidence.startswith("same position label in both orders for 6/6 pairs")


def test_invalid_answers_and_truncation_are_separate():
    ans = ["yes", "no"] * 4 + [None, None]
    df = rows("intent_alignment", ans, valid=[True] * 8 + [False, False], finish=["stop"] * 8 + ["length", "stop"])
    st = diagnose(df).per_prompt.iloc[0]
    assert st["n_invalid"] == 2 and st["n_truncated"] == 1 and st["n_failed"] == 1 and st["n_total"] == 10
    assert st["failure_rate"] == pytest.approx(0.1) and st["truncation_rate"] == pytest.approx(0.1)
    assert {f.flag for f in diagnose(df).flags} == {"high_failure_rate", "high_truncation"}
    with pytest.raises(ValueError, match="lacks columns"):
        answer_stats(pd.DataFrame({"answer": ["x"]}))


def test_answer_row_from_request_and_response():
    req = Request.from_prompt("Is it so?", prompt_type="receptiveness")
    resp = Response(text='{"answer": "Yes"}', finish_reason="length", model="mid", cached=True)
    r = answer_row("factors", req, resp, item_id=7, answer="Yes", examples=['{"answer":"yes"}'])
    assert r["answer"] == "yes" and r["valid"] and r["echo"] and r["cached"] and r["finish_reason"] == "length"
    assert r["model"] == "mid" and r["item_id"] == "7" and len(r["input_key"]) == 16
    failed = answer_row("factors", req, RequestFailed("boom"), item_id=1, answer="yes", model="local")
    assert failed["valid"] is False and failed["answer"] is None and failed["finish_reason"] == "failed"
    assert not is_echo("The cat sat.", ["The dog sat."]) and is_echo(" the CAT sat ", ["The cat sat."])


def test_call_records_join_answers_exactly_on_prompt_type_and_model(tmp_path):
    """Failure counts come from the call records, joined on (prompt type, model string) — no guessing."""
    from profile_align.backends import Client
    from profile_align.backends.fake import FakeBackend

    def rule(req):
        u = req.messages[-1]["content"]
        return "not json" if u in ("q0", "q1") or req.prompt_type == "other" else {"better": "1"}

    client = Client(FakeBackend("json", rule=rule, model_id="qwen-1.5b"), cache=tmp_path / "c.sqlite",
                    progress=False, model_label="local")
    schema = {"type": "object"}
    reqs = [Request.from_prompt(f"q{i}", prompt_type="pairwise_eval", json_schema=schema) for i in range(12)]
    reqs += [Request.from_prompt(f"o{i}", prompt_type="other", json_schema=schema) for i in range(3)]
    client.run_all(reqs, stage="evaluation")
    client.close()
    recs = read_records(tmp_path / "c.sqlite")
    assert len(recs) == 15 and {r.model for r in recs} == {"local"} and {r.model_id for r in recs} == {"qwen-1.5b"}
    calls = call_stats(recs).set_index("prompt_type")
    assert calls.loc["pairwise_eval", "unparseable_calls"] == 2 and calls.loc["other", "unparseable_calls"] == 3
    report = diagnose(rows("pairwise_eval", ["1", "2"] * 6, model="local"), recs)
    assert list(report.per_prompt["prompt_type"]) == ["other", "pairwise_eval"]  # a row without answers stays
    assert {(f.flag, f.prompt_type) for f in report.flags} == {("high_failure_rate", "pairwise_eval"),
                                                               ("high_failure_rate", "other")}
    assert report.failure_counts()["evaluation/pairwise_eval@local"]["failed"] == 2
    d = report.to_dict()
    assert set(d) == {"flags", "per_prompt", "totals", "thresholds", "notes"} and d["totals"] == {
        "failed": 5, "of": 15, "failure_rate": round(5 / 15, 6)}
    # answers under another model string do not borrow these records
    other = diagnose(rows("pairwise_eval", ["1", "2"] * 6, model="qwen-1.5b"), recs)
    assert len(other.per_prompt) == 3 and other.n_failed == 5


def test_one_token_scoring_requests_are_not_truncations(tmp_path):
    """UniEval-proxy style requests (logprobs, max_tokens=1) end with finish_reason "length" by design."""
    from profile_align.backends import Client
    from profile_align.backends.base import is_scoring_request
    from profile_align.backends.fake import FakeBackend, FakeReply

    def rule(req):
        return FakeReply(text="Yes", finish_reason="length", top_logprobs=[{"Yes": -0.1, "No": -2.5}])

    cache = tmp_path / "c.sqlite"
    client = Client(FakeBackend(rule=rule), cache=cache, progress=False)
    scoring = [Request.from_prompt(f"Is sentence {i} fluent?", max_tokens=1, logprobs=True, top_logprobs=20,
                                   prompt_type="unieval_fluency") for i in range(6)]
    cut = [Request.from_prompt(f"Write {i}", max_tokens=50, prompt_type="gen") for i in range(3)]
    assert is_scoring_request(scoring[0]) and not is_scoring_request(cut[0])
    assert is_scoring_request(scoring[0].model_dump()) and not is_scoring_request({"max_tokens": 1})
    client.run_all(scoring + cut)
    client.close()
    stats = call_stats(read_records(cache)).set_index("prompt_type")
    assert stats.loc["unieval_fluency", "truncated_calls"] == 0
    assert stats.loc["gen", "truncated_calls"] == 3  # a real truncation is still counted
