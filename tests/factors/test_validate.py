"""Validation of the extractor against human ratings (summary-level Kendall tau) and self-consistency."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau

import profile_align as pa
from profile_align.factors import FactorTable, extract_factors
from profile_align.factors.validate import self_consistency, summary_level_tau, validate_against_ratings


def test_summary_level_tau_is_the_mean_of_per_document_taus():
    x = [1, 2, 3, 4, 1, 2, 3, 4, 5, 5, 5]
    y = [1, 2, 4, 3, 4, 3, 2, 1, 1, 2, 3]
    g = ["a"] * 4 + ["b"] * 4 + ["c"] * 3  # c: constant factor -> no tau
    res = summary_level_tau(x, y, g, n_boot=200, seed=0)
    ta = kendalltau([1, 2, 3, 4], [1, 2, 4, 3]).statistic
    assert res["kendall_tau"] == pytest.approx((ta + -1.0) / 2)
    assert res["n_documents"] == 2 and res["n_outputs"] == 8
    assert res["ci_low"] <= res["kendall_tau"] <= res["ci_high"]
    again = summary_level_tau(x, y, g, n_boot=200, seed=0)
    assert again == res  # seeded


def test_validate_on_summeval_ratings_with_a_known_table():
    ds = pa.load_dataset("summeval", limit=4)
    ids = [o.id for o in ds.outputs]
    rng = np.random.default_rng(0)
    # a "perfect" coherence factor (= the experts' coherence), a noise fluency, an inverted consistency
    values = pd.DataFrame({
        "example_id": [o.example_id for o in ds.outputs], "text_hash": ["h"] * len(ids),
        "coherence": [o.metadata["ratings"]["coherence"] for o in ds.outputs],
        "fluency": rng.random(len(ids)),
        "hallucination": [-o.metadata["ratings"]["consistency"] for o in ds.outputs],
    }, index=pd.Index(ids, name="output_id"))
    values.loc[ids[0], "fluency"] = np.nan
    table = FactorTable(values, {"coherence": {"extractor": "test"}})
    df = validate_against_ratings(ds, table, n_boot=100)
    row = df.set_index("factor")
    assert row.loc["coherence", "kendall_tau"] == pytest.approx(1.0)
    assert row.loc["hallucination", "kendall_tau"] == pytest.approx(-1.0)
    assert row.loc["hallucination", "sign_as_expected"] == "yes"
    assert abs(row.loc["fluency", "kendall_tau"]) < 0.5 and row.loc["fluency", "missing"] == 1
    assert "source_coverage" not in row.index  # not in the table: not reported
    assert row.loc["coherence", "n_documents"] == 4


def test_validate_needs_ratings(tiny):
    table = extract_factors(tiny, ["length"], progress=False).table
    with pytest.raises(ValueError, match="no human ratings"):
        validate_against_ratings(tiny, table)


def test_self_consistency_reports_agreement(tiny, make_client):
    from .conftest import good_rule

    calls = {"n": 0}

    def rule(req):
        if req.prompt_version.startswith("intent_alignment") and req.seed is not None:
            calls["n"] += 1
            return {"justification": "x", "label": "not aligned" if calls["n"] % 2 else "aligned"}
        return good_rule(req)

    client, _ = make_client(rule)
    first = extract_factors(tiny, ["hallucination", "intent_alignment"], client=client, progress=False)
    sc = self_consistency(tiny, first, client=client, seed=5, progress=False).set_index("factor")
    # per output (e1::c repeats e1::a's text): 2 + 3 + 2 + 1 + 2 facts compared
    assert 0 <= sc.loc["hallucination", "agreement"] <= 1 and sc.loc["hallucination", "n_compared"] == 10
    assert sc.loc["intent_alignment", "n_compared"] == 5
    assert sc.loc["intent_alignment", "agreement"] == pytest.approx(2 / 5)
