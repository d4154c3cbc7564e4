import pytest

from profile_align.taxonomy import (
    CORE_FACTORS,
    LEVEL2_GROUPS,
    REGISTRY,
    TASK_FACTORS,
    FactorRegistry,
    Level3,
    factors_for_task,
    normalize_task,
)
from profile_align.factors import register_factor
from profile_align.factors.registry import remove_factor


def test_thirteen_core_factors_with_complete_metadata():
    assert len(CORE_FACTORS) == 13
    for name in CORE_FACTORS:
        f = REGISTRY.get(name)
        assert f.level2 in LEVEL2_GROUPS
        assert isinstance(f.level3, Level3)
        assert f.polarity in (-1, 0, 1)
    # every level-2 group is used
    assert {REGISTRY.get(n).level2 for n in CORE_FACTORS} == set(LEVEL2_GROUPS)


def test_task_sets_match_the_paper():
    assert len(TASK_FACTORS["summarization"]) == 10
    assert len(TASK_FACTORS["helpful_response"]) == 9
    assert len(TASK_FACTORS["document_qa"]) == 10
    for names in TASK_FACTORS.values():
        assert set(names) <= set(CORE_FACTORS)
    assert TASK_FACTORS["summarization"][0] == "intent_alignment"


def test_task_aliases_and_rule_filter():
    assert normalize_task("TL;DR".replace(";", "").lower()) == "summarization"
    assert normalize_task("webgpt") == "document_qa"
    rule = [f.name for f in factors_for_task("summarization", only_rule=True)]
    assert rule == ["length", "novel_words"]
    assert [f.name for f in factors_for_task("helpful_response", only_rule=True)] == ["length"]


def test_unknown_factor_error_lists_known():
    with pytest.raises(KeyError, match="known: length"):
        REGISTRY.get("nope")


def test_register_custom_factor_and_it_is_scored_like_builtins():
    from profile_align.data.dataset import Dataset
    from profile_align.data.model import Example, Output, Pair, Preference
    from profile_align.factors.table import compute_factors
    from profile_align.scoring import factor_scores

    @register_factor("exclamations", level3="Output-Only", value_type="count", replace=True)
    def exclamations(text, example):
        """Number of exclamation marks."""
        return text.count("!")

    try:
        f = REGISTRY.get("exclamations")
        assert f.description == "Number of exclamation marks."
        assert f.extractor == "custom"
        exs = [Example(f"e{i}", "custom", "post") for i in range(4)]
        outs = [o for i in range(4) for o in (Output(f"e{i}:a", f"e{i}", "wow!!" * (i + 1)), Output(f"e{i}:b", f"e{i}", "ok"))]
        pairs = [Pair(f"p{i}", f"e{i}", f"e{i}:a", f"e{i}:b") for i in range(4)]
        prefs = [Preference(f"p{i}", "human", "a" if i < 3 else "b") for i in range(4)]
        ds = Dataset("toy", "custom", exs, outs, pairs, prefs)
        table = compute_factors(ds, ["exclamations", "length"])
        res = factor_scores(ds, table, factors=["exclamations"], n_boot=0)
        # A has more '!' in all 4 pairs; the judge agrees in 3, disagrees in 1: (3-1)/4
        assert res["exclamations"] == pytest.approx(0.5)
    finally:
        remove_factor("exclamations")


def test_duplicate_registration_refused():
    reg = FactorRegistry()
    register_factor("x", registry=reg)(lambda t, e: 1.0)
    with pytest.raises(ValueError, match="already registered"):
        register_factor("x", registry=reg)(lambda t, e: 2.0)
    assert "x" not in REGISTRY  # an empty registry passed in is used, not the global one


def test_taxonomy_is_data_only_and_every_factor_has_an_extractor():
    import ast
    import inspect

    import profile_align.taxonomy as tx
    from profile_align.factors.registry import get_extractor

    tree = ast.parse(inspect.getsource(tx))
    imported = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in imported if "factors" in m], imported
    for name in REGISTRY.names():
        ext = get_extractor(name)
        assert ext is not None and ext.factor == REGISTRY.get(name), name
