"""Generic files with a column mapping; the registry; the hub loader."""

import importlib.util
import sys

import pytest

from profile_align.data import Verdict
from profile_align.data.loaders import (HubUnavailableError, list_formats, load_dataset, parse_mapping,
                                        register_format)
from profile_align.data.loaders.hub import parse_hub_source

CSV_MAP = "id=qid,input=prompt,output_a=response_a,output_b=response_b,preferred=winner,example_id=doc"


def test_generic_csv_grouped_by_example(fixtures):
    ds = load_dataset(fixtures / "generic.csv", mapping=CSV_MAP, task="summarization",
                      label_map="1=a,2=b,a=a,tie=tie")
    r = ds.report
    assert (r.format, ds.task) == ("generic", "summarization")
    assert (r.rows_read, r.examples, r.outputs, r.pairs_built, r.ties_dropped) == (4, 2, 5, 3, 1)
    assert [p.verdict for p in ds.preferences] == [Verdict.A, Verdict.B, Verdict.A]  # 1 / 2 / a
    assert [p.id for p in ds.pairs] == ["d1::q1", "d1::q2", "d2::q3"]
    # "The dog ran." appears in two rows of d1: one output
    assert sum(o.text == "The dog ran." for o in ds.outputs) == 1


def test_generic_jsonl_sources(fixtures):
    m = {"id": "uid", "input": "question", "output_a": "first", "output_b": "second", "preferred": "label",
         "sources": "refs"}
    ds = load_dataset(fixtures / "generic.jsonl", mapping=m)
    assert ds.task == "generic" and len(ds.pairs) == 2 and ds.report.ties_dropped == 1
    ex = ds.example_map()["r1"]
    assert ex.sources == ("Primes: 2, 3, 5, 7",) and ds.example_map()["r2"].sources == ()


def test_generic_errors(fixtures, tmp_path):
    with pytest.raises(ValueError, match="lacks preferred"):
        parse_mapping("id=a,input=b,output_a=c,output_b=d")
    with pytest.raises(ValueError, match="unknown mapping roles"):
        parse_mapping("id=a,input=b,output_a=c,output_b=d,preferred=e,colour=f")
    bad = dict(parse_mapping(CSV_MAP), preferred="nope")
    from profile_align.data import InvalidInputError

    with pytest.raises(InvalidInputError, match=r"generic\.csv, line 2, field 'nope': missing field"):
        load_dataset(fixtures / "generic.csv", mapping=bad, label_map="1=a,2=b,a=a,tie=tie")
    p = tmp_path / "g.csv"
    p.write_text("qid,prompt,response_a,response_b,winner\nq1,p,x,y,a\nq1,p,x,z,b\n")
    with pytest.raises(InvalidInputError, match=r"g\.csv, line 3, field 'qid': duplicate id 'q1'"):
        load_dataset(p, mapping="id=qid,input=prompt,output_a=response_a,output_b=response_b,preferred=winner")


def test_list_formats():
    fmts = list_formats()
    for name in ("tldr_axis", "tldr_comparisons", "shp", "webgpt", "summeval", "hh_rlhf", "llmbar", "mtbench",
                 "generic"):
        assert name in fmts and "[task:" in fmts[name]


def test_register_format_rejects_duplicates():
    with pytest.raises(ValueError, match="registered twice"):
        @register_format("shp", detect=None, task="x", description="x")
        class Again:  # noqa: F841
            pass


def test_parse_hub_source():
    s = parse_hub_source("hf:openai/summarize_from_feedback:axis@validation")
    assert (s.name, s.config, s.split) == ("openai/summarize_from_feedback", "axis", "validation")
    assert str(s) == "hf:openai/summarize_from_feedback:axis@validation"
    assert parse_hub_source("hf:stanfordnlp/SHP-2").split is None


def test_hub_without_datasets_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets -> ImportError
    with pytest.raises(HubUnavailableError, match=r"hub.*extra"):
        load_dataset("hf:openai/webgpt_comparisons")


@pytest.mark.skipif(importlib.util.find_spec("datasets") is None, reason="the 'hub' extra (datasets) is not installed")
def test_hub_rows_through_the_same_parsers(fixtures):
    from profile_align.data.loaders import load_records
    from profile_align.data.loaders.hub import HubSpec, hub_records

    recs = hub_records(HubSpec("json", None, "train"), data_files=str(fixtures / "webgpt.jsonl"))
    ds = load_records(recs, source="hf:json")
    local = load_dataset(fixtures / "webgpt.jsonl")
    assert ds.report.format == "webgpt" and ds.pairs == local.pairs
