"""Reading files: formats, gzip, line numbers, field access."""

import gzip
import json

import pytest

from profile_align.data import InvalidInputError
from profile_align.data.loaders import Record, get_field, load_dataset, read_records


def test_jsonl_line_numbers_skip_blank_lines(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text('{"a": 1}\n\n{"a": 2}\n', encoding="utf-8")
    assert [(r.line, r.data) for r in read_records(p)] == [(1, {"a": 1}), (3, {"a": 2})]


def test_json_array_line_numbers(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('[\n  {"a": 1},\n  {"a":\n    2}\n]\n', encoding="utf-8")
    assert [(r.line, r.data) for r in read_records(p)] == [(2, {"a": 1}), (3, {"a": 2})]


def test_json_array_bad_json_names_line(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('[\n  {"a": 1},\n  {"a": }\n]\n', encoding="utf-8")
    with pytest.raises(InvalidInputError, match=r"x\.json, line 3: invalid JSON"):
        list(read_records(p))


def test_json_named_file_holding_json_lines(fixtures):
    recs = list(read_records(fixtures / "tldr_comparisons.json"))
    assert len(recs) == 5 and [r.line for r in recs] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".json.gz"])
def test_gzip_input(tmp_path, fixtures, suffix):
    raw = (fixtures / "webgpt.jsonl").read_bytes()
    p = tmp_path / f"webgpt{suffix}"
    p.write_bytes(gzip.compress(raw))
    ds = load_dataset(p)
    assert ds.report.format == "webgpt" and len(ds.pairs) == 2 and ds.name == "webgpt"


def test_csv_and_tsv(tmp_path):
    (tmp_path / "x.csv").write_text('a,b\n1,"two\nlines"\n3,4\n', encoding="utf-8")
    recs = list(read_records(tmp_path / "x.csv"))
    assert [(r.line, r.data) for r in recs] == [(2, {"a": "1", "b": "two\nlines"}), (4, {"a": "3", "b": "4"})]
    (tmp_path / "x.tsv").write_text("a\tb\n1\t2\n3\n", encoding="utf-8")
    recs = list(read_records(tmp_path / "x.tsv"))
    assert recs[0].data == {"a": "1", "b": "2"} and recs[1].error and recs[1].line == 3


def test_missing_file():
    with pytest.raises(FileNotFoundError):
        load_dataset("does/not/exist.jsonl")


def test_get_field():
    rec = Record("f.jsonl", 7, {"info": {"post": "text", "n": 3, "flag": True, "blank": " "}, "xs": [{"t": "a"}]})
    assert get_field(rec, "info.post", str) == "text"
    assert get_field(rec, "xs.0.t", str) == "a"
    assert get_field(rec, "info.n", float) == 3
    assert get_field(rec, "info.missing", str, required=False, default="d") == "d"
    with pytest.raises(InvalidInputError, match=r"f\.jsonl, line 7, field 'info\.title': missing field"):
        get_field(rec, "info.title", str)
    with pytest.raises(InvalidInputError, match=r"field 'info\.n': expected string, got int"):
        get_field(rec, "info.n", str)
    with pytest.raises(InvalidInputError, match=r"field 'info\.flag': expected number, got bool"):
        get_field(rec, "info.flag", float)
    with pytest.raises(InvalidInputError, match=r"field 'info\.blank': empty text"):
        get_field(rec, "info.blank", str)
    err = pytest.raises(InvalidInputError, get_field, rec, "info.post.x", str).value
    assert (err.path, err.line, err.field) == ("f.jsonl", 7, "info.post.x")


def test_corrupt_gzip(tmp_path):
    p = tmp_path / "x.jsonl.gz"
    p.write_bytes(b"not gzip at all")
    with pytest.raises(InvalidInputError, match="cannot read file"):
        load_dataset(p, format="llmbar")


def test_non_object_row(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text(json.dumps({"id": "1", "instruction": "i", "output_a": "x", "output_b": "y", "preferred": "a"})
                 + "\n[1, 2]\n", encoding="utf-8")
    with pytest.raises(InvalidInputError, match="line 2: expected a JSON object, got list"):
        load_dataset(p)
    assert load_dataset(p, skip_invalid=True).report.rows_rejected == 1
