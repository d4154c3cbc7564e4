"""Cached answers keep hitting: every request the factor engine sends for a fixed dataset has the same
cache key as the requests recorded before the extractor registry existed (tests/factors/data/
request_keys.json). A changed prompt text must bump its version; then regenerate that prompt's entries
with ``python tests/factors/test_request_golden.py`` and say why in the commit."""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

GOLDEN = Path(__file__).parent / "data" / "request_keys.json"
ALL = ["length", "novel_words", "n_facts", "hallucination", "off_focus", "helpfulness", "misinformation",
       "source_coverage", "intent_alignment", "formality_alignment", "receptiveness", "fluency", "coherence"]


def _dataset():
    from profile_align.data.dataset import Dataset
    from profile_align.data.model import Example, Output, Pair, Preference

    ex = [Example("e1", "summarization", "Summarize: The council approved a park on Monday. It costs $2 million.",
                  sources=["The council approved a park on Monday. It costs $2 million. Work starts in May."]),
          Example("e2", "summarization", "A post about cats {braces}. Cats sleep a lot.")]
    outs = [Output("e1::a", "e1", "The council approved a park. It costs 2 million dollars."),
            Output("e1::b", "e1", "A park was approved. Building starts in May!"),
            Output("e2::a", "e2", "Cats sleep a lot."), Output("e2::b", "e2", "Cats are animals. They sleep.")]
    return Dataset("golden", "summarization", ex, outs, [Pair("p1", "e1", "e1::a", "e1::b"),
                                                          Pair("p2", "e2", "e2::a", "e2::b")],
                   [Preference("p1", "human", "a"), Preference("p2", "human", "b")])


def request_keys() -> dict[str, list[str]]:
    from profile_align.backends import Client
    from profile_align.backends.fake import FakeBackend
    from profile_align.factors import extract_factors

    try:
        from .conftest import good_rule
    except ImportError:  # run as a script
        sys.path.insert(0, str(Path(__file__).parents[2]))
        from tests.factors.conftest import good_rule

    client = Client(FakeBackend("json", rule=good_rule), cache=None, cache_mode="off", progress=False, max_retries=0)
    seen: dict[str, set[str]] = defaultdict(set)
    run_all = client.run_all

    def spy(reqs, **kw):
        for r in reqs:
            seen[r.prompt_type].add(client.key(r))
        return run_all(reqs, **kw)

    client.run_all = spy  # type: ignore[method-assign]
    extract_factors(_dataset(), ALL, client=client, progress=False)
    return {k: sorted(v) for k, v in sorted(seen.items())}


def test_every_factor_request_keeps_its_cache_key():
    golden = json.loads(GOLDEN.read_text())
    got = request_keys()
    assert sorted(got) == sorted(golden)
    for pt in golden:
        assert got[pt] == golden[pt], f"requests of {pt} changed: bump its prompt version and regenerate"


if __name__ == "__main__":
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps(request_keys(), indent=1) + "\n")
