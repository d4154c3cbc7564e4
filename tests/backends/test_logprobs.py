from __future__ import annotations

import math

import pytest

from profile_align.backends import yes_probability


def test_variants_pooled():
    top = {"Yes": math.log(0.5), " yes": math.log(0.1), "YES": math.log(0.1), "No": math.log(0.2), " no.": math.log(0.1)}
    assert yes_probability(top) == pytest.approx(0.7 / 1.0)


def test_list_forms_and_missing():
    assert yes_probability([{"token": "yes", "logprob": 0.0}, {"token": "no", "logprob": 0.0}]) == pytest.approx(0.5)
    assert yes_probability([("▁Yes", math.log(0.3)), ("Ġno", math.log(0.1))]) == pytest.approx(0.75)
    assert yes_probability({"Maybe": -0.1, "The": -2.0}) is None
    assert yes_probability(None) is None
    assert yes_probability({"yes": math.log(0.2)}) == 1.0
    assert yes_probability({"yesterday": -0.1, "none": -0.2, "Not": -0.3}) is None
