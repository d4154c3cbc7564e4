"""Adding an LLM factor needs no edit under src/: this module declares one (its own prompt text and
parser, a response-level and a fact-level factor) and runs the whole pipeline with the fake backend; the
factors reach the factor table, the details, the answers, the factor scores and the report."""

from __future__ import annotations

import json
import math
import re

import pytest

from profile_align.backends.fake import FakeBackend, FakeReply, last_user
from profile_align.factors import ParsedAnswer, ShareOf, llm_factor
from profile_align.factors.prompts import Prompt
from profile_align.factors.registry import remove_factor
from profile_align.factors.rules import length
from profile_align.rundir import RunDir

JARGON = Prompt("jargon_test", "1", "You spot jargon and reply with JSON only.",
                "Does this text use technical jargon? Reply {\"jargon\": \"yes\"} or {\"jargon\": \"no\"}.\n\nTEXT:\n$text")
NUMBERS = Prompt("numbers_test", "1", "You check statements and reply with JSON only.",
                 "For every statement answer yes when it contains a number.\n\nSTATEMENTS:\n$facts")


def jargon_parser(parsed):
    """Whether the text uses jargon (1) or not (0)."""
    v = parsed.get("jargon") if isinstance(parsed, dict) else None
    return ParsedAnswer({"yes": 1.0, "no": 0.0}[v], v) if v in ("yes", "no") else None


def rule(req):
    u = last_user(req)
    if req.prompt_type == "pairwise_eval":
        t1 = u.split("Summary 1:\n", 1)[1].split("\n\nSummary 2:")[0]
        t2 = u.split("Summary 2:\n", 1)[1].split("\n\nReply")[0]
        n1, n2 = len(t1.split()), len(t2.split())
        return {"better": "1" if n1 > n2 else "2" if n2 > n1 else "Tie", "justification": "more detail"}
    if req.prompt_type == "jargon_test":
        text = u.split("TEXT:\n", 1)[1]
        return {"jargon": "yes" if length(text) > 60 else "no"}  # long texts "use jargon"
    if req.prompt_type == "atomic_facts":
        text = u.split("TEXT:", 1)[1]
        return {"facts": [s.strip() + "." for s in text.split(".") if s.strip()][:40]}
    if req.prompt_type == "numbers_test":
        facts = u.split("STATEMENTS:\n", 1)[1].splitlines()
        return {str(i): "yes" if re.search(r"\d", f.split(". ", 1)[-1]) else "no" for i, f in enumerate(facts, 1)}
    if req.prompt_type.startswith("unieval"):
        return FakeReply(text="Yes", top_logprobs=[{"Yes": math.log(0.7), "No": math.log(0.3)}])
    raise AssertionError(f"unexpected prompt type {req.prompt_type}")


@pytest.fixture
def declared():
    llm_factor("jargon", prompt=JARGON, level="response", parser=jargon_parser, value_type="binary",
               label="jargon", level2="style", level3="Output-Only", schema={"type": "object"}, max_tokens=32)
    llm_factor("numeric_facts", prompt=NUMBERS, level="fact", parser=ShareOf("yes"), label="numeric facts",
               description="share of output facts that contain a number", level2="informativeness")
    yield
    remove_factor("jargon")
    remove_factor("numeric_facts")


def test_a_new_llm_factor_flows_through_run_tables_scores_and_report(declared, tmp_path):
    from profile_align.pipeline import run

    config = {"name": "new-factor", "dataset": {"source": "summeval"},
              "sample": {"examples": 3, "pairs_per_example": 5, "seed": 1},
              "factors": {"names": ["length", "jargon", "numeric_facts"], "unieval": "proxy"},
              "judges": [{"model": "fakej", "name": "fk"}], "stats": {"n_boot": 20, "difference_boot": 20}}
    fb = FakeBackend("json", rule=rule, model_id="fake-judge")
    res = run(config, tmp_path / "run", backends={"fakej": fb}, progress=False, print_summary=False)
    rd = RunDir(tmp_path / "run")

    table = rd.read_factors()
    assert {"jargon", "numeric_facts"} <= set(table.factor_names)
    lengths = table.values["length"]
    # the parser's value: 1 for the texts over 60 words, 0 otherwise, for every output
    assert (table.values["jargon"] == (lengths > 60).astype(float)).all()
    assert table.values["numeric_facts"].between(0, 1).all() and table.values["numeric_facts"].notna().all()
    assert table.provenance["jargon"]["version"] == "jargon_test@1"
    assert table.provenance["numeric_facts"]["prompt_types"] == "atomic_facts,numbers_test"

    details = rd.read_table("factor_details")
    d = json.loads(details[details["factor"] == "jargon"]["detail"].iloc[0])
    assert d["label"] in ("yes", "no")
    answers = rd.read_answers()
    assert {"jargon_test", "numbers_test", "atomic_facts"} <= set(answers["prompt_type"])

    scores = rd.read_table("tables/factor_scores")
    assert {"jargon", "numeric_facts"} <= set(scores[scores["judge"] == "human"]["factor"])
    assert "jargon" in res.scores["human"].to_frame()["factor"].tolist()
    m = rd.read_manifest()
    assert m["factors"]["extractors"]["jargon"] == "llm-response:fake:fake-judge"
    assert m["factors"]["failures"]["jargon_test"]["requests"] > 0

    html = res.report_path.read_text() if res.report_path else ""
    if res.report_path is None:
        pytest.skip("report extra not installed")
    assert "numeric facts" in html and "jargon_test@1" in html


def test_a_declared_prompt_object_decodes_greedily():
    from profile_align.factors.registry import prompt_of

    req = prompt_of(JARGON).request(text="x")
    assert (req.temperature, req.top_p, req.prompt_version) == (0.0, 1.0, "jargon_test@1")
