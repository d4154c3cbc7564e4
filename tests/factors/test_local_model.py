"""The default local model end to end on 3 real SummEval summaries (slow: minutes on 2 cores)."""

from __future__ import annotations

import pytest

import profile_align as pa
from profile_align.data.dataset import Dataset
from profile_align.factors import extract_factors
from profile_align.taxonomy import TASK_FACTORS

pytestmark = pytest.mark.slow

RANGES = {"n_facts": (0, 40), "length": (0, 1000), "novel_words": (0, 1000), "fluency": (0, 1), "coherence": (0, 1),
          "intent_alignment": (0, 1), "formality_alignment": (0, 1), "source_coverage": (0, 1),
          "off_focus": (0, 1), "hallucination": (0, 1)}


def test_local_model_extracts_every_summarization_factor(tmp_path):
    pytest.importorskip("llama_cpp")
    from profile_align.backends import Client

    full = pa.load_dataset("summeval", limit=1)
    outs = full.outputs[:3]
    ds = Dataset("summeval-3", "summarization", full.examples, outs, [], [])
    client = Client("local", cache=tmp_path / "cache.sqlite", progress=False)
    try:
        res = extract_factors(ds, client=client, run_dir=tmp_path / "run", progress=False)
    finally:
        client.close()
    v = res.table.values
    assert res.table.factor_names == list(TASK_FACTORS["summarization"])
    for name, (lo, hi) in RANGES.items():
        col = v[name]
        assert col.notna().all(), (name, res.failures)
        assert col.between(lo, hi).all(), (name, col.tolist())
    assert res.failure_rate() < 0.2, res.failures
    assert res.table.provenance["coherence"]["extractor"] == "unieval-proxy:llamacpp:qwen2.5-coder-1.5b-instruct-q4_k_m"
