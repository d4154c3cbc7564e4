"""Fixtures for the factor-extraction tests: a tiny dataset and a scriptable fake LLM."""

from __future__ import annotations

import math
import re

import pytest

from profile_align.backends import Client
from profile_align.backends.fake import FakeBackend, FakeReply, last_user
from profile_align.data.dataset import Dataset
from profile_align.data.model import Example, Output, Pair, Preference

SOURCE = ("The city council approved a new park on Monday. The park will cost 2 million dollars. "
          "Construction starts in May. The mayor said the park will open next year.")


@pytest.fixture
def tiny() -> Dataset:
    ex = [Example("e1", "summarization", SOURCE), Example("e2", "summarization", "A short post about cats. Cats sleep a lot.")]
    outs = [
        Output("e1::a", "e1", "The council approved a park. It costs 2 million dollars."),
        Output("e1::b", "e1", "A park was approved. Building starts in May. The mayor likes dogs."),
        Output("e1::c", "e1", "The council approved a park. It costs 2 million dollars."),  # same text as a
        Output("e2::a", "e2", "Cats sleep a lot."),
        Output("e2::b", "e2", "Cats are animals. They sleep."),
    ]
    pairs = [Pair("p1", "e1", "e1::a", "e1::b"), Pair("p2", "e2", "e2::a", "e2::b")]
    prefs = [Preference("p1", "human", "a"), Preference("p2", "human", "b")]
    return Dataset("tiny", "summarization", ex, outs, pairs, prefs)


def facts_of(req) -> list[str]:
    text = last_user(req).split("TEXT:", 1)[1]
    return [s.strip() + "." for s in re.split(r"[.]", text) if s.strip()]


def n_statements(req) -> int:
    return len(req.json_schema["properties"])


def good_rule(req):
    """A well-behaved fake extractor: facts = sentences; every odd-numbered fact 'yes'."""
    v = req.prompt_version
    if v.startswith("atomic_facts"):
        return {"facts": facts_of(req)}
    if v.startswith("fact_"):
        return {str(i): ("yes" if i % 2 else "no") for i in range(1, n_statements(req) + 1)}
    if v.startswith(("intent_alignment", "formality_alignment")):
        return {"justification": "It covers the main point.", "label": "aligned"}
    if v.startswith("receptiveness"):
        return {"justification": "It answers.", "answer": "no"}
    if v.startswith("unieval"):
        return FakeReply(text="Yes", top_logprobs=[{"Yes": math.log(0.6), " yes": math.log(0.2), "No": math.log(0.2)}])
    raise AssertionError(f"unexpected prompt {v}")


@pytest.fixture
def make_client(tmp_path):
    def make(rule=good_rule, cache="cache.sqlite", **kw):
        backend = FakeBackend("json", rule=rule, **kw)
        client = Client(backend, cache=tmp_path / cache if cache else None, cache_mode="use" if cache else "off",
                        progress=False, max_retries=0)
        return client, backend
    return make
