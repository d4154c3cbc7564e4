import numpy as np
import pandas as pd
import pytest

from profile_align.data.dataset import Dataset
from profile_align.data.model import Example, Output, Pair, Preference
from profile_align.factors.table import FactorTable, compute_factors


def toy() -> Dataset:
    exs = [Example("e1", "summarization", "the cat sat on the mat"), Example("e2", "summarization", "dogs bark loudly")]
    outs = [
        Output("o1", "e1", "the cat sat"),
        Output("o2", "e1", "a cat sat on a red mat today"),
        Output("o3", "e1", "the cat sat"),  # same text as o1: computed once
        Output("o4", "e2", ""),  # empty: 0 and a counted warning
        Output("o5", "e2", "dogs bark"),
    ]
    pairs = [Pair("p1", "e1", "o1", "o2"), Pair("p2", "e1", "o2", "o3"), Pair("p3", "e2", "o4", "o5")]
    prefs = [Preference("p1", "human", "b"), Preference("p2", "human", "a"), Preference("p3", "human", "b")]
    return Dataset("toy", "summarization", exs, outs, pairs, prefs)


def test_compute_rule_factors_and_warnings():
    t = compute_factors(toy())
    assert t.factor_names == ["length", "novel_words"]
    assert t["length"].to_dict() == {"o1": 3, "o2": 8, "o3": 3, "o4": 0, "o5": 2}
    assert t["novel_words"]["o2"] == pytest.approx(3 / 7)  # a, red, today of a, cat, sat, on, red, mat, today
    assert t.warnings["length: empty output text (value 0)"] == 1
    # model factors of the task are reported as not computed, never silently
    assert any("intent_alignment: needs a model backend" in w for w in t.warnings)


def test_lookup_missing_is_nan():
    t = compute_factors(toy())
    v = t.lookup(["o1", "nope"], ["length"])
    assert v[0, 0] == 3 and np.isnan(v[1, 0])
    with pytest.raises(KeyError, match="no column"):
        t.lookup(["o1"], ["coherence"])


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".json"])
def test_round_trip(tmp_path, suffix):
    t = compute_factors(toy())
    p = t.save(tmp_path / f"f{suffix}")
    back = FactorTable.load(p)
    pd.testing.assert_frame_equal(back.values[t.factor_names].astype(float), t.values[t.factor_names].astype(float),
                                  check_names=False)
    assert back.provenance == t.provenance
    assert back.warnings == t.warnings


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        FactorTable.load(tmp_path / "missing.parquet")
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="output_id"):
        FactorTable.load(tmp_path / "bad.csv")
