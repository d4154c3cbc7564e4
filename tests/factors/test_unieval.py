"""UniEval's Boolean-QA protocol: input formatting, sentence splitting, the arithmetic — without the model."""

from __future__ import annotations

import math
import sys

import pytest

from profile_align.backends.logprobs import yes_probability
from profile_align.factors import unieval as ue


def test_input_format_matches_unieval_summarization():
    assert ue.unieval_input("fluency", "The cat sat.") == "question: Is this a fluent paragraph? </s> paragraph: The cat sat."
    assert ue.unieval_input("coherence", "A sum.", "The doc.") == (
        "question: Is this a coherent summary to the document? </s> summary: A sum. </s> document: The doc.")
    with pytest.raises(ValueError):
        ue.unieval_input("coherence", "A sum.")
    with pytest.raises(ValueError):
        ue.unieval_input("relevance", "A sum.")


def test_boolean_qa_arithmetic():
    assert ue.boolean_qa_score(0.3, 0.1) == pytest.approx(0.75)
    assert ue.boolean_qa_score(0.0, 0.2) == 0.0
    assert ue.boolean_qa_score(0.0, 0.0) is None
    with pytest.raises(ValueError):
        ue.boolean_qa_score(-0.1, 0.2)
    # the proxy path: the same ratio from the first token's top logprobs, variants pooled
    top = {"Yes": math.log(0.3), " yes": math.log(0.1), "No": math.log(0.1), "The": math.log(0.5)}
    assert yes_probability(top) == pytest.approx(0.8)


@pytest.mark.parametrize("text,expected", [
    ("The cat sat. The dog ran!", ["The cat sat.", "The dog ran!"]),
    ("paul merson was brought on . andros townsend scored . ", ["paul merson was brought on .", "andros townsend scored ."]),
    ('He said "stop." Then he left?', ['He said "stop."', "Then he left?"]),
    ("Line one\nLine two", ["Line one", "Line two"]),
    ("  ", []),
    ("...", []),
])
def test_split_sentences(text, expected):
    assert ue.split_sentences(text) == expected


def test_proxy_request_is_one_token_with_logprobs():
    req = ue.proxy_request("coherence", "summary text", "document text")
    assert req.max_tokens == 1 and req.logprobs and req.top_logprobs == 20 and req.temperature == 0.0
    body = req.messages[-1]["content"]
    assert body.index("document text") < body.index("summary text")  # fixed source first
    assert req.prompt_type == "unieval_coherence" and req.prompt_version == "unieval_coherence@1"
    assert ue.proxy_request("fluency", "One sentence.").prompt_type == "unieval_fluency"


def test_real_unieval_needs_transformers(monkeypatch):
    monkeypatch.setitem(sys.modules, "transformers", None)  # import fails
    scorer = ue.UniEvalScorer("MingZhong/unieval-sum")
    with pytest.raises(ue.UniEvalUnavailable, match="profile-align\\[unieval\\]"):
        scorer.fluency("A sentence.")


def test_real_scorer_plumbing_with_a_stub_scorer(tiny):
    """The engine uses a given scorer for fluency/coherence and records extractor 'unieval'."""
    from profile_align.factors import extract_factors

    class Stub(ue.UniEvalScorer):
        def score_inputs(self, inputs):
            self.seen = list(inputs)
            return [ue.boolean_qa_score(0.9, 0.1) if "fluent" in s else 0.5 for s in inputs]

    stub = Stub("stub-model")
    res = extract_factors(tiny, ["fluency", "coherence"], unieval=stub, progress=False)
    v = res.table.values
    assert v["fluency"].to_numpy() == pytest.approx([0.9] * 5)
    assert (v["coherence"] == 0.5).all()
    assert res.table.provenance["fluency"] == {"extractor": "unieval", "version": "stub-model",
                                               "prompt_types": "unieval_fluency"}
    assert stub.seen[-1].startswith("question: Is this a coherent summary to the document? </s> summary: ")
