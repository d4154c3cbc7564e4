"""The extractor registry, dependency order, the sink, the UniEval scorer choice and the
misinformation prompt's open definition."""

from __future__ import annotations

import ast
import inspect

import pytest

from profile_align.factors import MemorySink, extract_factors
from profile_align.factors import engine
from profile_align.factors import unieval as ue
from profile_align.factors.prompts import load_prompt
from profile_align.factors.registry import EXTRACTORS, dependency_order, get_extractor


def test_engine_names_no_factor_and_imports_no_run_directory():
    src = inspect.getsource(engine)
    tree = ast.parse(src)
    modules = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not [m for m in modules if "rundir" in m]
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    assert not strings & set(EXTRACTORS.names()), strings & set(EXTRACTORS.names())


def test_dependency_order_puts_fact_lists_first_and_adds_them():
    order = [e.name for e in dependency_order(["source_coverage", "hallucination", "n_facts", "intent_alignment"])]
    assert order == ["atomic_facts_source", "source_coverage", "atomic_facts", "hallucination", "n_facts",
                     "intent_alignment"]


def test_dependency_errors_are_clear():
    class Ext:
        factor = None
        model_free = False

        def __init__(self, name, needs):
            self.name, self.needs = name, needs

    EXTRACTORS.add(Ext("cyc_a", ("cyc_b",)))
    EXTRACTORS.add(Ext("cyc_b", ("cyc_a",)))
    EXTRACTORS.add(Ext("dangling", ("nowhere",)))
    try:
        with pytest.raises(ValueError, match="cycle: cyc_a -> cyc_b -> cyc_a"):
            dependency_order(["cyc_a"])
        with pytest.raises(ValueError, match="no extractor for 'nowhere'"):
            dependency_order(["dangling"])
    finally:
        for n in ("cyc_a", "cyc_b", "dangling"):
            EXTRACTORS.remove(n)


def test_sink_gets_a_snapshot_per_extractor_then_the_complete_one(tiny, make_client):
    client, _ = make_client()
    sink = MemorySink()
    res = extract_factors(tiny, ["length", "n_facts", "hallucination"], client=client, sink=sink, progress=False)
    statuses = [s.status for s in sink.snapshots]
    # start, atomic_facts, n_facts, hallucination, then complete
    assert statuses == ["partial"] * 4 + ["complete"]
    assert sink.snapshots[1].table.values["n_facts"].isna().all()  # facts extracted, n_facts not yet set
    last = sink.snapshots[-1]
    assert last.usage is not None and last.usage["total"]["requests"] == res.usage["total"]["requests"]
    assert last.manifest["names"] == ["length", "n_facts", "hallucination"]
    assert list(last.answers.columns) == list(engine.ANSWER_FIELDS)


def test_answer_fields_are_the_run_directory_columns():
    from profile_align.rundir import ANSWER_COLUMNS

    assert tuple(engine.ANSWER_FIELDS) == tuple(ANSWER_COLUMNS)


# ----------------------------------------------------------------------------------- UniEval choice
def test_unieval_auto_without_the_extra_is_the_proxy_with_a_warning(monkeypatch):
    monkeypatch.setattr(ue, "unieval_importable", lambda: False)
    scorer, info = ue.resolve_unieval("auto")
    assert scorer is None and info["mode"] == "proxy"
    assert "not installed" in info["warning"] and "+0.03 [-0.18, +0.34]" in info["warning"]
    with pytest.raises(ue.UniEvalUnavailable, match="factors.unieval: proxy"):
        ue.resolve_unieval("real")
    scorer, info = ue.resolve_unieval("proxy")
    assert scorer is None and info["warning"] is None  # chosen on purpose: no warning


def test_unieval_auto_with_the_extra_is_the_real_model(monkeypatch):
    monkeypatch.setattr(ue, "unieval_importable", lambda: True)
    scorer, info = ue.resolve_unieval("auto")
    assert isinstance(scorer, ue.UniEvalScorer) and scorer.model_name == ue.UNIEVAL_MODEL
    assert info == {"mode": "real", "model": ue.UNIEVAL_MODEL, "fallback": True}
    assert ue.resolve_unieval("real")[1] == {"mode": "real", "model": ue.UNIEVAL_MODEL}


def test_auto_falls_back_to_the_proxy_when_the_model_cannot_load(tiny, make_client, monkeypatch):
    monkeypatch.setattr(ue, "unieval_importable", lambda: True)

    def unloadable(self):
        raise ue.UniEvalUnavailable("could not load UniEval model 'MingZhong/unieval-sum': offline")

    monkeypatch.setattr(ue.UniEvalScorer, "_load", unloadable)
    client, _ = make_client()
    res = extract_factors(tiny, ["fluency", "coherence"], client=client, unieval="auto", progress=False)
    assert res.unieval["mode"] == "proxy" and "offline" in res.unieval["warning"]
    assert res.table.provenance["coherence"]["extractor"].startswith("unieval-proxy:")
    assert res.table.values["coherence"].notna().all()
    assert sum(w.startswith("UniEval proxy:") for w in res.table.warnings) == 1  # warned once, not per factor
    with pytest.raises(ue.UniEvalUnavailable, match="offline"):  # "real" never falls back silently
        extract_factors(tiny, ["fluency"], client=client, unieval="real", progress=False)


def test_proxy_rows_carry_their_measured_agreement_and_the_warning(tiny, make_client, monkeypatch):
    monkeypatch.setattr(ue, "unieval_importable", lambda: False)
    client, _ = make_client()
    sink = MemorySink()
    res = extract_factors(tiny, ["fluency", "coherence", "length"], client=client, unieval="auto", sink=sink,
                          progress=False)
    assert res.table.provenance["coherence"]["note"] == "UniEval proxy: tau +0.03 [-0.18, +0.34] with SummEval experts"
    assert res.table.provenance["fluency"]["note"].startswith("UniEval proxy: tau +0.06 [-0.30, +0.31]")
    assert "note" not in res.table.provenance["length"]
    assert res.unieval["mode"] == "proxy" and sink.snapshots[-1].manifest["unieval"]["warning"]
    assert any(w.startswith("UniEval proxy:") for w in res.table.warnings)
    # without fluency/coherence there is nothing to say about UniEval
    assert extract_factors(tiny, ["length"], sink=(s2 := MemorySink()), progress=False).unieval == {}
    assert "unieval" not in s2.snapshots[-1].manifest


def test_run_config_default_is_auto_and_rejects_other_values():
    from profile_align.pipeline.config import FactorsConfig

    assert FactorsConfig().unieval == "auto"
    with pytest.raises(Exception, match="unieval"):
        FactorsConfig(unieval="maybe")


# ----------------------------------------------------------------------------------- misinformation
def test_misinformation_prompt_follows_the_papers_open_definition():
    p = load_prompt("fact_misinfo")
    assert p.version == "2"
    text = p.system.lower()
    assert "potentially incorrect or misleading" in text
    assert "false" in text and "any other way" in text
    assert 'answer "no" for every other statement' not in text  # no closed list
    assert get_extractor("misinformation").prompt == "fact_misinfo"


def test_report_extraction_section_shows_the_proxy_warning_and_agreement(tiny, make_client, monkeypatch, tmp_path):
    from profile_align.factors import RunDirSink
    from profile_align.report.blocks import Note, Table
    from profile_align.report.build import load_run
    from profile_align.report.sections import sec_extraction

    monkeypatch.setattr(ue, "unieval_importable", lambda: False)
    client, _ = make_client()
    extract_factors(tiny, ["length", "coherence"], client=client, unieval="auto", sink=RunDirSink(tmp_path),
                    progress=False)
    blocks = sec_extraction(load_run(tmp_path))
    notes = [b.text for b in blocks if isinstance(b, Note) and b.level == "warn"]
    assert len(notes) == 1 and notes[0].startswith("UniEval proxy:") and "not installed" in notes[0]
    rows = {r[0]: r[1] for r in next(b for b in blocks if isinstance(b, Table)).rows}
    assert rows["coherence"].endswith("UniEval proxy: tau +0.03 [-0.18, +0.34] with SummEval experts")
    assert rows["length"] == "rule"


def test_llm_factor_as_a_decorator_takes_its_description_from_the_parser(tiny, make_client):
    from profile_align.factors import llm_factor
    from profile_align.factors.registry import remove_factor
    from profile_align.taxonomy import REGISTRY

    @llm_factor("polite_test", prompt="receptiveness", level="response", value_type="binary")
    def polite(parsed):
        """Whether the response is polite."""
        return 1.0 if isinstance(parsed, dict) and parsed.get("answer") == "yes" else 0.0

    try:
        assert REGISTRY.get("polite_test").description == "Whether the response is polite."
        assert REGISTRY.get("polite_test").extractor == "llm-response"
        client, _ = make_client()
        res = extract_factors(tiny, ["polite_test"], client=client, progress=False)
        assert (res.table.values["polite_test"] == 0.0).all()  # good_rule answers receptiveness "no"
        with pytest.raises(ValueError, match="level must be one of"):
            llm_factor("bad_level", prompt="receptiveness", level="sentence")
    finally:
        remove_factor("polite_test")
