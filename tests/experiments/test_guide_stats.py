import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from profile_align.experiments.guide_stats import choose_factors, guidance_sentences, mcnemar, paired_agreement_diff
from profile_align.taxonomy import CORE_FACTORS


def diffs(rows):
    return pd.DataFrame(rows, columns=["factor", "diff", "significant", "significant_holm"])


def test_choose_mis_is_largest_significant_and_rand_among_non_significant():
    d = diffs([("length", 0.7, True, True), ("coherence", -0.9, True, False), ("fluency", 0.05, False, False),
               ("n_facts", -0.02, False, False)])
    c = choose_factors(d, seed=0)
    assert c.mis == "length" and c.mis_significant  # coherence is not significant after Holm
    assert c.rand in ("coherence", "fluency", "n_facts") and c.candidates_rand == ("coherence", "fluency", "n_facts")
    assert choose_factors(d, adjusted=False).mis == "coherence"  # |-0.9| is the largest unadjusted
    # seeded: same seed, same pick
    assert choose_factors(d, seed=5).rand == choose_factors(d, seed=5).rand


def test_choose_without_significant_factor_says_so():
    c = choose_factors(diffs([("length", 0.1, False, False), ("fluency", -0.3, False, False)]))
    assert c.mis == "fluency" and not c.mis_significant and "not significant" in c.note
    assert c.rand == "length"


def test_mcnemar_matches_exact_binomial():
    base = np.array([1, 1, 1, 0, 0, 0, 0, 1, 0, 0], bool)
    mis = np.array([1, 0, 1, 1, 1, 1, 1, 1, 1, 0], bool)
    r = mcnemar(base, mis)
    assert r["baseline_only_right"] == 1 and r["treatment_only_right"] == 5
    assert r["p_value"] == pytest.approx(sps.binomtest(5, 6, 0.5).pvalue)
    assert mcnemar(base, base)["p_value"] == 1.0


def test_paired_agreement_diff():
    a = np.array([1, 0, 1, 0], float)
    b = np.array([1, 1, 1, 1], float)
    r = paired_agreement_diff(a, b, np.array(["e1", "e1", "e2", "e2"]), n_boot=500, seed=1)
    assert r["diff"] == pytest.approx(0.5)
    assert r["ci_low"] <= 0.5 <= r["ci_high"]
    same = paired_agreement_diff(a, a, np.array(["e1", "e1", "e2", "e2"]), n_boot=100)
    assert same["diff"] == 0 and same["ci_low"] == 0 and same["ci_high"] == 0


def test_guidance_sentences_cover_taxonomy_and_override(tmp_path):
    g = guidance_sentences()
    assert set(CORE_FACTORS) <= set(g)
    f = tmp_path / "g.yaml"
    f.write_text("length: Mind the length.\n")
    assert guidance_sentences(f)["length"] == "Mind the length."
    assert guidance_sentences({"fluency": "x"})["fluency"] == "x"
