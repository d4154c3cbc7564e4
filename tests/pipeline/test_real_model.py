"""Real-model smoke run of the whole pipeline on 2 SummEval examples (needs the 1.5B model: -m slow)."""

import json

import pytest

from profile_align.pipeline import run


@pytest.mark.slow
def test_local_model_end_to_end_on_two_examples(tmp_path):
    pytest.importorskip("llama_cpp")
    cfg = {"name": "slow-smoke", "dataset": {"source": "summeval"},
           "sample": {"examples": 2, "pairs_per_example": 1, "max_input_words": 350, "seed": 0},
           "factors": {"names": ["length", "novel_words", "n_novel_words"]},
           "judges": [{"model": "local", "name": "local",
                       "generation": {"variant": "per-level", "k": 3, "max_words": 30},
                       "evaluation": {"justification_max_chars": 120}}],
           "backend": {"concurrency": 1, "timeout_s": 900}, "stats": {"n_boot": 100, "difference_boot": 100},
           "max_failure_rate": 1.0}
    res = run(cfg, tmp_path / "run", progress=False)
    m = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert m["failures"]["evaluation/pairwise_eval"]["requests"] == 4
    assert m["failures"]["generation/scored_generation_level"]["requests"] == 6
    assert m["usage"]["completion_tokens"] > 0
    # answers are the model's: we only check that they were read (not that they are right)
    ans = res.run_dir.read_answers()
    assert ans["valid"].sum() >= 1
    # resume: everything from the cache
    run(cfg, tmp_path / "run", progress=False, print_summary=False)
    m2 = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert m2["usage"]["new_requests"] == 0
