import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from profile_align.experiments.guide_stats import choose_factors, guidance_sentences, mcnemar, paired_agreement_diff
from profile_align.taxonomy import CORE_FACTORS


def diffs(rows):
    """rows: (factor, model score, human score, significant, significant_holm)."""
    df = pd.DataFrame(rows, columns=["factor", "score_a", "score_b", "significant", "significant_holm"])
    df["diff"] = df["score_a"] - df["score_b"]
    return df


# The paper's Table 5 (TL;DR, evaluation setting) with the human scores; shared/spec/PROFILE.md section 6.
#            factor                Mixtral  Tulu2.5+PPO(13B RM)  human
TABLE5 = [("intent_alignment",     0.120,   0.102,  0.596),
          ("formality_alignment",  0.038,   0.081,  0.594),
          ("n_facts",              0.073,   0.039,  0.328),
          ("source_coverage",      0.055,   0.069,  0.274),
          ("length",               0.044,   0.048,  0.257),
          ("coherence",            0.106,   0.114,  0.180),
          ("off_focus",            0.144,  -0.053,  0.050),
          ("hallucination",       -0.053,  -0.076, -0.037),
          ("fluency",              0.051,   0.016, -0.072),
          ("novel_words",         -0.041,  -0.029, -0.167)]  # fmt: skip


@pytest.mark.parametrize("col, expected, model_rank, human_rank", [
    (1, "off_focus", 1, 7),   # Mixtral: the paper guided on off-focus
    (2, "coherence", 1, 6),   # Tulu 2.5 + PPO (13B RM): the paper guided on coherence
])
def test_guide_mis_on_the_papers_table5_picks_the_papers_factor(col, expected, model_rank, human_rank):
    d = diffs([(r[0], r[col], r[3], False, False) for r in TABLE5])
    c = choose_factors(d, seed=0)
    assert (c.mis, c.mis_model_rank, c.mis_human_rank) == (expected, model_rank, human_rank)
    assert c.mis_diff == pytest.approx(dict((r[0], r[col] - r[3]) for r in TABLE5)[expected])
    # the former rule (largest |model - human|) picks formality for Mixtral: humans' large scores dominate
    assert d.loc[d["diff"].abs().idxmax(), "factor"] == "formality_alignment"
    # GuideRand: any factor without a significant difference except GuideMis
    assert c.rand in c.candidates_rand and expected not in c.candidates_rand and len(c.candidates_rand) == 9


def test_guide_mis_is_among_the_models_top_factors_and_rand_among_non_significant():
    # model ranks: a 1, b 2, c 3, d 4; human ranks: a 1, b 2, d 3, c 4 -> gaps a 0, b 0, c +1, d -1
    d = diffs([("a", 0.9, 0.9, True, True), ("b", 0.5, 0.5, False, False), ("c", 0.4, 0.1, True, False),
               ("d", -0.9, 0.3, True, True)])
    c = choose_factors(d, seed=0, top=3)
    assert c.mis == "c" and (c.mis_model_rank, c.mis_human_rank) == (3, 4) and not c.note
    assert c.mis_significant is False  # not significant after Holm; significance does not decide GuideMis
    assert choose_factors(d, adjusted=False, top=3).mis_significant is True
    assert c.candidates_rand == ("b",) and c.rand == "b"
    assert choose_factors(d, adjusted=False, top=3).candidates_rand == ("b",)
    # default top = half (a, b): both ranked alike by humans -> fall back to every factor, and say so
    t = choose_factors(d)
    assert t.mis == "c" and "top 2" in t.note
    # seeded: same seed, same pick
    assert choose_factors(d, seed=5).rand == choose_factors(d, seed=5).rand
    ranks = c.ranks.set_index("factor")
    assert ranks.loc["d", "rank_model"] == 4 and ranks.loc["d", "rank_gap"] == -1


def test_identical_rankings_have_no_guide_mis():
    c = choose_factors(diffs([("length", 0.1, 0.5, False, False), ("fluency", -0.3, 0.2, False, False)]))
    assert c.mis is None and "rank the factors alike" in c.note and c.rand in ("length", "fluency")


def test_guidance_sentences_correct_the_over_weighting_of_the_papers_factors():
    g = guidance_sentences()
    assert "not the main" in g["coherence"] or "not the primary" in g["coherence"]
    assert "main focus" in g["off_focus"]


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
