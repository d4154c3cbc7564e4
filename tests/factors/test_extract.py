"""The extraction engine on the fake backend: every prompt path, failures, dedupe, truncation, resume."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from profile_align.backends import TransientError
from profile_align.backends.fake import FakeReply
from profile_align.factors import ExtractionResult, extract_factors
from profile_align.rundir import ANSWER_COLUMNS, RunDir

from .conftest import good_rule

ALL = ["length", "novel_words", "n_facts", "hallucination", "off_focus", "helpfulness", "misinformation",
       "source_coverage", "intent_alignment", "formality_alignment", "receptiveness", "fluency", "coherence"]


def prompts_called(backend) -> list[str]:
    return list(backend.calls_by_prompt)


def test_all_13_factors_on_the_fake_backend(tiny, make_client):
    client, backend = make_client()
    res = extract_factors(tiny, ALL, client=client, progress=False)
    assert isinstance(res, ExtractionResult)
    v = res.table.values
    assert list(v.index) == [o.id for o in tiny.outputs]
    assert res.table.factor_names == ALL
    assert not v[ALL].isna().any().any(), v[ALL]
    # e1::a has 2 facts ("council approved", "costs"); verdict 1 yes, 2 no
    assert v.loc["e1::a", "n_facts"] == 2
    assert v.loc["e1::a", "hallucination"] == pytest.approx(0.5)     # "no" counts
    assert v.loc["e1::a", "helpfulness"] == pytest.approx(0.5)       # "yes" counts
    assert v.loc["e1::b", "n_facts"] == 3
    assert v.loc["e1::b", "off_focus"] == pytest.approx(1 / 3)       # facts 1, 3 yes; 2 no
    assert v.loc["e1::b", "misinformation"] == pytest.approx(2 / 3)
    assert v.loc["e1::a", "source_coverage"] == pytest.approx(2 / 4)  # 4 source facts: 1,3 yes
    assert (v["intent_alignment"] == 1.0).all() and (v["receptiveness"] == 0.0).all()
    assert v["fluency"].between(0, 1).all() and v.loc["e1::a", "fluency"] == pytest.approx(0.8)
    assert res.table.provenance["fluency"]["extractor"].startswith("unieval-proxy:")
    flu = res.answers[res.answers["prompt_type"] == "unieval_fluency"]
    assert len(flu) and (flu["finish_reason"] == "logprobs").all()  # one-token scoring, not a truncation
    assert set(flu["answer"]) <= {f"{x / 100:.2f}" for x in range(101)}  # the probability used, not "yes"
    assert res.table.provenance["hallucination"]["version"] == "atomic_facts@1+fact_support@1"
    assert res.table.provenance["length"]["extractor"] == "rule"
    assert set(res.details.columns) == {"output_id", "factor", "value", "extractor", "version", "detail",
                                        "n_items", "n_failed"}
    assert len(res.details) == len(tiny.outputs) * len(ALL)
    just = json.loads(res.details.query("factor == 'intent_alignment'").iloc[0]["detail"])
    assert just == {"label": "aligned", "justification": "It covers the main point."}
    assert tuple(res.answers.columns) == ANSWER_COLUMNS and (res.answers["stage"] == "factors").all()
    per_fact = res.answers.query("prompt_type == 'fact_support'")
    assert sorted(per_fact["variant"].unique()) == ["0", "1", "2"]
    assert res.failure_rate() == 0.0
    assert all(f["failed"] == f["parse_failed"] == f["missing_values"] == 0 for f in res.failures.values())


def test_same_text_is_asked_once_and_facts_are_shared_across_factors(tiny, make_client):
    client, backend = make_client(cache=None)
    res = extract_factors(tiny, ["n_facts", "hallucination", "off_focus", "source_coverage"], client=client,
                          progress=False)
    n_texts = len({o.text for o in tiny.outputs})  # e1::a and e1::c share a text
    assert res.failures["atomic_facts"]["requests"] == n_texts == 4
    assert res.failures["atomic_facts_source"]["requests"] == 2  # each source decomposed once
    assert res.failures["fact_support"]["requests"] == n_texts
    atomic_calls = [k for k in backend.calls_by_prompt if "Split the following text" in k]
    assert len(atomic_calls) == 6 and all(backend.calls_by_prompt[k] == 1 for k in atomic_calls)
    assert res.table.values.loc["e1::a", "hallucination"] == res.table.values.loc["e1::c", "hallucination"]


def test_without_a_model_only_rule_factors_are_computed(tiny):
    res = extract_factors(tiny, ALL, progress=False)
    v = res.table.values
    assert v["length"].notna().all() and v["hallucination"].isna().all()
    assert any("hallucination: needs a model backend" in w for w in res.table.warnings)
    assert res.answers.empty and res.failures == {}


def test_malformed_json_is_counted_and_values_are_missing(tiny, make_client):
    def rule(req):
        if req.prompt_version.startswith(("fact_support", "intent_alignment")):
            return 'I think {"1": "yes", '
        return good_rule(req)

    client, _ = make_client(rule)
    res = extract_factors(tiny, ["hallucination", "intent_alignment", "off_focus"], client=client, progress=False)
    v = res.table.values
    assert v["hallucination"].isna().all() and v["intent_alignment"].isna().all()
    assert v["off_focus"].notna().all()
    assert res.failures["fact_support"]["parse_failed"] == 4
    assert res.failures["fact_support"]["missing_values"] == 5
    assert res.failures["intent_alignment"]["parse_failed"] == 4
    assert res.failure_rate() > 0.3
    bad = res.answers.query("prompt_type == 'intent_alignment'")
    assert not bad["valid"].any() and bad["answer"].isna().all()
    # the client counted the unparseable answers too
    assert client.accounting.to_dict()["total"]["parse_failures"] >= 8


def test_partial_verdicts_exclude_only_the_missing_facts(tiny, make_client):
    def rule(req):
        if req.prompt_version.startswith("fact_support"):
            n = len(req.json_schema["properties"])
            ans = {"1": "no"}
            if n >= 3:
                ans["3"] = "maybe"  # not yes/no: counted, excluded
            return ans
        return good_rule(req)

    client, _ = make_client(rule)
    res = extract_factors(tiny, ["hallucination"], client=client, progress=False)
    v = res.table.values
    assert v.loc["e1::a", "hallucination"] == 1.0  # fact 1 "no" is the only valid verdict
    d = res.details.set_index(["output_id", "factor"]).loc[("e1::b", "hallucination")]
    assert d["n_items"] == 3 and d["n_failed"] == 2
    verdicts = [x["verdict"] for x in json.loads(d["detail"])]
    assert verdicts == ["no", None, None]
    f = res.failures["fact_support"]
    assert f["parse_failed"] == 0  # every answer was JSON; the missing verdicts are items, not calls
    rep = res.report().set_index("factor").loc["hallucination"]
    det = res.details[res.details["factor"] == "hallucination"]  # per output (a shared text counts per output)
    assert rep["items"] == det["n_items"].sum() > 2 + 3 + 1 + 2 - 1 and rep["items_failed"] == det["n_failed"].sum() > 0


def test_empty_fact_lists_and_empty_outputs(tiny, make_client):
    def rule(req):
        if req.prompt_version.startswith("atomic_facts"):
            return {"facts": []}
        return good_rule(req)

    client, backend = make_client(rule)
    res = extract_factors(tiny, ["n_facts", "hallucination", "source_coverage"], client=client, progress=False)
    v = res.table.values
    assert (v["n_facts"] == 0).all()
    assert v["hallucination"].isna().all() and v["source_coverage"].isna().all()
    assert any("no atomic facts" in w for w in res.table.warnings)
    # no verdict request was needed; the missing values are counted
    assert res.failures["fact_support"]["requests"] == 0 and res.failures["fact_support"]["missing_values"] == 5


def test_duplicate_facts_are_dropped_and_non_strings_ignored(tiny, make_client):
    def rule(req):
        if req.prompt_version.startswith("atomic_facts"):
            return {"facts": ["The park costs money.", "the park costs money", 3, "", "Another fact."]}
        return good_rule(req)

    client, _ = make_client(rule)
    res = extract_factors(tiny, ["n_facts"], client=client, progress=False)
    assert (res.table.values["n_facts"] == 2).all()


def test_long_texts_are_truncated_visibly_with_a_counted_warning(tiny, make_client):
    from profile_align.data.dataset import Dataset
    from profile_align.data.model import Example, Output

    long_src = " ".join(f"Sentence number {i} says something." for i in range(2000))
    ds = Dataset("long", "summarization", [Example("x", "summarization", long_src)],
                 [Output("x::1", "x", "A summary. It is short."), Output("x::2", "x", "Another summary.")], [], [])
    seen = []

    def rule(req):
        seen.append(req.messages[-1]["content"])
        return good_rule(req)

    client, _ = make_client(rule)
    res = extract_factors(ds, ["hallucination", "coherence"], client=client, progress=False, context_tokens=4096)
    assert res.table.values["hallucination"].notna().all()
    warn = {w: n for w, n in res.table.warnings.items() if "truncated" in w}
    assert warn and sum(warn.values()) == 2  # the source, once per prompt kind (support, coherence)
    assert all(len(s) < 12000 for s in seen)
    assert any("[text truncated]" in s for s in seen)


def test_request_failures_are_counted_and_retried_on_the_next_run(tiny, make_client, tmp_path):
    def failing(req):
        if req.prompt_version.startswith("formality_alignment"):
            return TransientError("server down")
        return good_rule(req)

    client, _ = make_client(failing)
    res = extract_factors(tiny, ["intent_alignment", "formality_alignment"], client=client, run_dir=tmp_path / "run",
                          progress=False)
    assert res.table.values["formality_alignment"].isna().all()
    assert res.failures["formality_alignment"]["failed"] == 4
    client2, backend2 = make_client(good_rule)
    res2 = extract_factors(tiny, ["intent_alignment", "formality_alignment"], client=client2,
                           run_dir=tmp_path / "run", progress=False)
    assert backend2.calls == 4  # only the failed requests; the intent answers came from the cache
    assert res2.table.values["formality_alignment"].notna().all()


def test_resume_rerun_makes_zero_backend_calls_and_files_are_whole(tiny, make_client, tmp_path):
    rd = RunDir(tmp_path / "run", create=True)
    other = pd.DataFrame([{c: None for c in ANSWER_COLUMNS} | {"stage": "evaluation", "valid": True,
                                                               "cached": False, "echo": False}])
    rd.write_answers(other)
    client, backend = make_client()
    res = extract_factors(tiny, ALL, client=client, run_dir=rd, progress=False)
    assert backend.calls > 0
    client2, backend2 = make_client()
    res2 = extract_factors(tiny, ALL, client=client2, run_dir=rd, progress=False)
    assert backend2.calls == 0
    pd.testing.assert_frame_equal(res.table.values, res2.table.values)
    assert res2.answers["cached"].all()
    table = rd.read_factors()
    pd.testing.assert_frame_equal(table.values, res.table.values, check_dtype=False)
    assert table.provenance["coherence"]["extractor"].startswith("unieval-proxy:")
    details = rd.read_table("factor_details")
    assert len(details) == len(res.details)
    answers = rd.read_answers()
    assert (answers["stage"] == "evaluation").sum() == 1  # other stages' rows are kept
    assert (answers["stage"] == "factors").sum() == len(res.answers)
    m = rd.read_manifest()["factors"]
    assert m["status"] == "complete" and m["names"] == ALL
    assert not list((tmp_path / "run").glob(".*.tmp*"))


def test_interrupted_run_leaves_a_readable_partial_table(tiny, make_client, tmp_path):
    class Boom(KeyboardInterrupt):
        pass

    def rule(req):
        if req.prompt_version.startswith("intent_alignment"):
            raise Boom()
        return good_rule(req)

    client, _ = make_client(rule)
    with pytest.raises(KeyboardInterrupt):
        extract_factors(tiny, ["n_facts", "hallucination", "intent_alignment"], client=client,
                        run_dir=tmp_path / "run", progress=False)
    table = RunDir(tmp_path / "run").read_factors()
    assert table.values["n_facts"].notna().all() and table.values["intent_alignment"].isna().all()
    assert RunDir(tmp_path / "run").read_manifest()["factors"]["status"] == "partial"
    client2, backend2 = make_client()
    extract_factors(tiny, ["n_facts", "hallucination", "intent_alignment"], client=client2,
                    run_dir=tmp_path / "run", progress=False)
    assert backend2.calls == 4  # only the intent requests


def test_unieval_proxy_without_yes_no_is_counted(tiny, make_client):
    def rule(req):
        if req.prompt_version.startswith("unieval_fluency"):
            return FakeReply(text="Maybe", top_logprobs=[{"Maybe": math.log(0.9), "Perhaps": math.log(0.1)}])
        return good_rule(req)

    client, _ = make_client(rule)
    res = extract_factors(tiny, ["fluency", "coherence"], client=client, progress=False)
    assert res.table.values["fluency"].isna().all()
    assert res.table.values["coherence"].notna().all()
    f = res.failures["unieval_fluency"]
    assert f["parse_failed"] == f["requests"] > 0  # one call per sentence, none readable
    # the same count in the call records, the usage table's source
    assert client.accounting.to_dict()["failure_rates"]["unieval_fluency"] == 1.0
    assert res.report().set_index("factor").loc["fluency", "parse_failed"] == f["requests"]


def test_response_label_outside_the_schema_is_a_parse_failure(tiny, make_client):
    def rule(req):
        if req.prompt_version.startswith("formality_alignment"):
            return {"justification": "x", "label": "somewhat"}
        if req.prompt_version.startswith("intent_alignment"):
            return {"justification": "x", "label": "Partially"}  # lenient: partially aligned
        return good_rule(req)

    client, _ = make_client(rule)
    res = extract_factors(tiny, ["intent_alignment", "formality_alignment"], client=client, progress=False)
    assert (res.table.values["intent_alignment"] == 0.5).all()
    assert res.table.values["formality_alignment"].isna().all()
    assert res.failures["formality_alignment"]["parse_failed"] == 4


def test_fenced_json_is_accepted(tiny, make_client):
    def rule(req):
        obj = good_rule(req)
        if isinstance(obj, dict):
            return "Here you go:\n```json\n" + json.dumps(obj) + "\n```"
        return obj

    client, _ = make_client(rule)
    res = extract_factors(tiny, ["n_facts", "hallucination"], client=client, progress=False)
    assert res.table.values[["n_facts", "hallucination"]].notna().all().all()


def test_shuffled_fact_order_maps_verdicts_back(tiny, make_client):
    def rule(req):  # "no" exactly for statements mentioning "million"
        if req.prompt_version.startswith("fact_support"):
            lines = req.messages[-1]["content"].split("STATEMENTS:\n", 1)[1].splitlines()
            return {ln.split(".", 1)[0]: ("no" if "million" in ln else "yes") for ln in lines if ln.strip()}
        return good_rule(req)

    client, _ = make_client(rule, cache=None)
    a = extract_factors(tiny, ["hallucination"], client=client, progress=False)
    b = extract_factors(tiny, ["hallucination"], client=client, progress=False, fact_order_seed=3)
    pd.testing.assert_frame_equal(a.table.values, b.table.values)
    assert a.table.values.loc["e1::a", "hallucination"] == 0.5


def test_unknown_model_factor_is_an_error(tiny, make_client):
    from profile_align.taxonomy import REGISTRY, Factor, Level3, ValueType

    REGISTRY.add(Factor("mystery", "mystery", "x", "style", Level3.OUTPUT_ONLY, ValueType.RATIO, "llm-fact"))
    try:
        client, _ = make_client()
        with pytest.raises(ValueError, match="no extractor"):
            extract_factors(tiny, ["mystery"], client=client, progress=False)
    finally:
        REGISTRY.remove("mystery")
