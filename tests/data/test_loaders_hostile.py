"""Regression tests for issue 14 (hostile input) items 1-9 and issue 19's data-loading items.

Each test fails on the loaders as they were before (see the issue for what happened then).
"""

from __future__ import annotations

import csv
import io
import json

import pytest

from profile_align.data import InvalidInputError, Verdict
from profile_align.data.loaders import load_dataset, parse_label_map, read_records

MAP = "id=id,input=prompt,output_a=a,output_b=b,preferred=p"


def _row(i, **kw):
    r = {"id": f"r{i}", "prompt": f"Prompt {i}", "a": f"A {i}", "b": f"B {i}", "p": "a"}
    r.update(kw)
    return r


def _jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows),
                    encoding="utf-8")
    return path


# one valid row per paper format (JSON), the field that holds its main text
PAPER_ROWS = {
    "tldr_axis": ({"info": {"id": "t3_a", "post": "A post."}, "summary": {"text": "S", "axes": {"overall": 3}}},
                  ("summary", "text")),
    "tldr_comparisons": ({"info": {"id": "t3_b", "post": "P"}, "summaries": [{"text": "x"}, {"text": "y"}],
                          "choice": 0}, ("info", "post")),
    "webgpt": ({"question": {"id": "q", "full_text": "Q?"}, "quotes_0": {}, "quotes_1": {}, "answer_0": "x",
                "answer_1": "y", "score_0": 1.0, "score_1": -1.0}, ("answer_0",)),
    "shp": ({"post_id": "p", "domain": "askscience_train", "history": "H", "c_root_id_A": "a", "c_root_id_B": "b",
             "human_ref_A": "x", "human_ref_B": "y", "labels": 1, "score_A": 5, "score_B": 2}, ("history",)),
    "generic": (_row(0), ("prompt",)),
}


def _load(path, fmt, **kw):
    return load_dataset(path, mapping=MAP, **kw) if fmt == "generic" else load_dataset(path, fmt, **kw)


def _with(row, keys, raw):
    """The row as JSON text with the value at ``keys`` replaced by the raw JSON text ``raw``."""
    r = json.loads(json.dumps(row))
    cur = r
    for k in keys[:-1]:
        cur = cur[k]
    cur[keys[-1]] = "@@X@@"
    return json.dumps(r).replace('"@@X@@"', raw)


# -- 1. deeply nested JSON ------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", list(PAPER_ROWS))
def test_deep_nesting_is_a_row_error(tmp_path, fmt):
    row, keys = PAPER_ROWS[fmt]
    deep = _with(row, keys, "[" * 100_000 + "]" * 100_000)
    p = _jsonl(tmp_path / "x.jsonl", [row, deep])
    with pytest.raises(InvalidInputError, match=r"x\.jsonl, line 2: invalid JSON: nested too deeply"):
        _load(p, fmt)
    r = _load(p, fmt, skip_invalid=True).report
    assert (r.rows_read, r.rows_valid, r.rows_rejected) == (2, 1, 1)


def test_deep_nesting_in_a_json_array_names_the_line(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('[\n{"a": 1},\n{"a": ' + "[" * 50_000 + "]" * 50_000 + "}\n]\n")
    with pytest.raises(InvalidInputError, match=r"x\.json, line 3: invalid JSON: nested too deeply"):
        list(read_records(p))


def test_moderately_nested_value_names_the_field(tmp_path):
    row, keys = PAPER_ROWS["webgpt"]
    p = _jsonl(tmp_path / "x.jsonl", [_with(row, keys, "[" * 900 + "]" * 900)])
    with pytest.raises(InvalidInputError, match=r"line 1, field 'answer_0': expected string, got list with 1 item"):
        load_dataset(p)


# -- 2. 5,000-digit integers ---------------------------------------------------------------------
@pytest.mark.parametrize("fmt", list(PAPER_ROWS))
def test_huge_integer_is_a_row_error(tmp_path, fmt):
    row, keys = PAPER_ROWS[fmt]
    p = _jsonl(tmp_path / "x.jsonl", [_with(row, keys, "7" * 5000), row])
    with pytest.raises(InvalidInputError, match=r"x\.jsonl, line 1: invalid JSON: a number is too long"):
        _load(p, fmt)
    r = _load(p, fmt, skip_invalid=True).report
    assert (r.rows_read, r.rows_valid, r.rows_rejected) == (2, 1, 1) and r.rejected[0].line == 1


# -- 3. U+2028 / U+2029 / U+0085 inside JSON strings ---------------------------------------------
def test_unicode_line_separators_inside_strings_are_valid(tmp_path):
    rows = [_row(1, prompt="one\u2028two"), _row(2, a="x\u2029y"), _row(3, b="p\u0085q"), _row(4, p="c")]
    p = _jsonl(tmp_path / "x.jsonl", rows)
    assert "\u2028" in p.read_text(encoding="utf-8")  # written raw, as json.dumps(ensure_ascii=False) does
    with pytest.raises(InvalidInputError, match=r"line 4, field 'p'"):  # line numbers stay right
        load_dataset(p, mapping=MAP)
    ds = load_dataset(p, mapping=MAP, skip_invalid=True)
    assert ds.example_map()["r1"].input == "one\u2028two" and ds.report.rows_valid == 3
    assert {o.text for o in ds.outputs} >= {"x\u2029y", "p\u0085q"}


# -- 4. invalid UTF-8 ----------------------------------------------------------------------------
def test_invalid_utf8_names_the_row_and_keeps_the_others(tmp_path):
    p = tmp_path / "x.jsonl"
    good = [json.dumps(_row(i)).encode() for i in (1, 3)]
    p.write_bytes(good[0] + b"\n" + b'{"id": "r2", "prompt": "caf\xe9"}' + b"\n" + good[1] + b"\n")
    with pytest.raises(InvalidInputError, match=r"x\.jsonl, line 2: invalid UTF-8 byte 0xe9"):
        load_dataset(p, mapping=MAP)
    ds = load_dataset(p, mapping=MAP, skip_invalid=True)
    assert [e.id for e in ds.examples] == ["r1", "r3"] and ds.report.rows_rejected == 1


def test_invalid_utf8_in_csv_names_row_and_column(tmp_path):
    p = tmp_path / "x.csv"
    p.write_bytes(b"id,prompt,a,b,p\nr1,ok,x,y,a\nr2,ok,\xff\xfe,y,b\nr3,ok,x,z,b\n")
    with pytest.raises(InvalidInputError, match=r"x\.csv, line 3, field 'a': invalid UTF-8 byte 0xff"):
        load_dataset(p, mapping=MAP)
    assert load_dataset(p, mapping=MAP, skip_invalid=True).report.pairs_built == 2


def test_invalid_utf8_in_a_json_array_element(tmp_path):
    p = tmp_path / "x.json"
    p.write_bytes(b'[\n' + json.dumps(_row(1)).encode() + b',\n{"id": "r2", "prompt": "\xc3("},\n'
                  + json.dumps(_row(3)).encode() + b"\n]\n")
    ds = load_dataset(p, mapping=MAP, skip_invalid=True)
    assert [(x.line, x.reason[:20]) for x in ds.report.rejected] == [(3, "invalid UTF-8 byte 0")]
    assert len(ds.pairs) == 2


# -- 5. UTF-8 BOM --------------------------------------------------------------------------------
def test_bom_in_csv_and_jsonl(tmp_path):
    c = tmp_path / "x.csv"
    c.write_text("id,prompt,a,b,p\nr1,hi,x,y,a\n", encoding="utf-8-sig")
    assert load_dataset(c, mapping=MAP).report.pairs_built == 1
    j = tmp_path / "x.jsonl"
    j.write_text(json.dumps(_row(1)) + "\n", encoding="utf-8-sig")
    assert load_dataset(j, mapping=MAP).report.pairs_built == 1
    row, _ = PAPER_ROWS["shp"]
    j.write_text(json.dumps(row) + "\n", encoding="utf-8-sig")
    assert load_dataset(j).report.format == "shp"  # detection sees the first row


# -- 6. CSV cells over 131,072 characters ----------------------------------------------------------
def test_big_csv_cell_loads_and_invents_nothing(tmp_path):
    big = "x" * 70_000 + "\nr9,invented,p,q,a\n" + "y" * 70_000
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerows([["id", "prompt", "a", "b", "p"], ["r1", big, "x", "y", "a"], ["r2", "small", "x", "y", "b"]])
    p = tmp_path / "x.csv"
    p.write_text(buf.getvalue(), encoding="utf-8")
    ds = load_dataset(p, mapping=MAP)
    assert [e.id for e in ds.examples] == ["r1", "r2"] and ds.example_map()["r1"].input == big
    assert ds.report.rows_read == 2


# -- 7. NaN / Infinity / out of range ------------------------------------------------------------
@pytest.mark.parametrize("fmt,keys,raw,msg", [
    ("webgpt", ("score_0",), "NaN", "expected a finite number, got nan"),
    ("webgpt", ("score_0",), "Infinity", "expected a finite number, got inf"),
    ("webgpt", ("score_1",), "3", "out of range: expected -1 to 1, got 3"),
    ("tldr_axis", ("summary", "axes", "overall"), "NaN", "expected a finite number"),
    ("tldr_axis", ("summary", "axes", "overall"), "-99", "out of range: expected 1 to 7, got -99"),
    ("shp", ("score_A",), "NaN", "expected a finite number"),
    ("shp", ("score_ratio",), "Infinity", "expected a finite number"),
    ("generic", ("strength",), "NaN", "expected a finite number"),
    ("generic", ("strength",), "-Infinity", "expected a finite number"),
])
def test_non_finite_and_out_of_range_values(tmp_path, fmt, keys, raw, msg):
    row, _ = PAPER_ROWS[fmt]
    p = _jsonl(tmp_path / "x.jsonl", [_with(row, keys, raw)])
    kw = {"mapping": MAP + ",strength=strength"} if fmt == "generic" else {"format": fmt}
    field = ".".join(keys)
    with pytest.raises(InvalidInputError, match=rf"line 1, field '{field}': {msg}"):
        load_dataset(p, **kw)


@pytest.mark.parametrize("cell", ["nan", "inf", "-Infinity", "1" + "0" * 400])
def test_generic_csv_strength_must_be_finite(tmp_path, cell):
    p = tmp_path / "x.csv"
    p.write_text(f"id,prompt,a,b,p,s\nr1,hi,x,y,a,{cell}\n")
    with pytest.raises(InvalidInputError, match=r"line 2, field 's': expected a finite number"):
        load_dataset(p, mapping=MAP + ",strength=s")


def test_summeval_rating_out_of_range(tmp_path):
    row = {"doc_id": "d", "system": "M1", "source": "S", "summary": "x",
           "ratings": {"coherence": 9, "consistency": 5, "fluency": 5, "relevance": 5}}
    p = _jsonl(tmp_path / "s.jsonl", [row])
    with pytest.raises(InvalidInputError, match=r"field 'ratings\.coherence': out of range: expected 1 to 5"):
        load_dataset(p)


# -- 8. unterminated CSV quote -------------------------------------------------------------------
def test_unterminated_quote_is_one_error_and_no_row_vanishes(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text('id,prompt,a,b,p\nr1,one,x,y,a\nr2,"two,x,y,b\nr3,three,x,y,b\nr4,four,x,y,a\n')
    with pytest.raises(InvalidInputError, match=r"x\.csv, line 3: invalid CSV: a quoted cell opened on this line"):
        load_dataset(p, mapping=MAP)
    r = load_dataset(p, mapping=MAP, skip_invalid=True).report
    assert (r.rows_read, r.rows_valid, r.rows_rejected, r.pairs_built) == (4, 3, 1, 3)


def test_quote_closed_on_a_later_line_is_still_one_error(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text('id,prompt,a,b,p\nr1,"one,x,y,a\nr2,two,x,y,b\nr3,"three\nlines",x,y,b\n')
    r = load_dataset(p, mapping=MAP, skip_invalid=True).report
    assert [x.line for x in r.rejected] == [2] and r.rows_read == 3 and r.pairs_built == 2


# -- 9. every skipped row is listed --------------------------------------------------------------
def test_report_lists_every_rejection(tmp_path):
    rows = [_row(i) if i % 2 else _row(i, p="maybe") for i in range(1, 61)]
    p = _jsonl(tmp_path / "x.jsonl", rows)
    r = load_dataset(p, mapping=MAP, skip_invalid=True).report
    assert r.rows_rejected == 30
    out = r.write_rejections(tmp_path / "skipped_rows.csv")
    back = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(back) == 30 and list(back[0]) == ["file", "line", "field", "reason"]
    assert [int(b["line"]) for b in back] == list(range(2, 61, 2)) and {b["field"] for b in back} == {"p"}
    lines = r.summary_lines(listed_in=out)
    assert "... and 10 more rejected rows" in lines[-2] and str(out) in lines[-1] and "all 30" in lines[-1]


# -- issue 19: labels are declared, never guessed ------------------------------------------------
def test_numeric_labels_need_a_map(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("id,prompt,a,b,p\nr1,q,x,y,0\nr2,q2,x,y,1\nr3,q3,x,y,2\nr4,q4,x,y,1\n")
    with pytest.raises(InvalidInputError) as ei:
        load_dataset(p, mapping=MAP)
    msg = str(ei.value)
    assert "line 2, field 'p'" in msg and "'0' (line 2); '1' (lines 3, 5); '2' (line 4)" in msg
    assert "--label-map" in msg
    ds = load_dataset(p, mapping=MAP, label_map="0=a,1=b,2=tie")
    assert [pr.verdict for pr in ds.preferences] == [Verdict.A, Verdict.B, Verdict.B]
    assert ds.report.ties_dropped == 1
    ds = load_dataset(p, mapping=MAP, label_map={0: "tie", 1: "a", 2: "b"})
    assert [pr.verdict for pr in ds.preferences] == [Verdict.A, Verdict.B, Verdict.A]


def test_values_outside_the_map_are_listed(tmp_path):
    p = tmp_path / "x.jsonl"
    _jsonl(p, [_row(1, p=0), _row(2, p=3), _row(3, p="x"), _row(4, p=1)])
    with pytest.raises(InvalidInputError, match=r"2 label value\(s\) not in the label map \(0=a,1=b\): "
                                                r"'3' \(line 2\); 'x' \(line 3\)"):
        load_dataset(p, mapping=MAP, label_map="0=a,1=b")
    r = load_dataset(p, mapping=MAP, label_map="0=a,1=b", skip_invalid=True).report
    assert [(x.line, x.field) for x in r.rejected] == [(2, "p"), (3, "p")] and r.pairs_built == 2


def test_unambiguous_spellings_without_a_map(tmp_path):
    p = _jsonl(tmp_path / "x.jsonl", [_row(i, p=v) for i, v in
                                      enumerate(["A", "model_b", "response_a", "Tie", "tie (bothbad)", "b"])])
    ds = load_dataset(p, mapping=MAP)
    assert [pr.verdict for pr in ds.preferences] == [Verdict.A, Verdict.B, Verdict.A, Verdict.B]
    assert ds.report.ties_dropped == 2


def test_label_map_errors():
    with pytest.raises(ValueError, match="expected a, b or tie"):
        parse_label_map("0=a,1=c")
    with pytest.raises(ValueError, match="expected VALUE=a"):
        parse_label_map("0a")
    with pytest.raises(ValueError, match="llmbar defines its own labels"):
        load_dataset("llmbar", label_map="0=a")


def test_pairwise_formats_read_no_numbers(tmp_path):
    p = _jsonl(tmp_path / "x.jsonl", [{"id": "1", "instruction": "i", "output_a": "x", "output_b": "y",
                                       "preferred": 2}])
    with pytest.raises(InvalidInputError, match=r"field 'preferred': expected a, b or tie, got 2"):
        load_dataset(p)


# -- issue 19: rows of one example carry one input ------------------------------------------------
def test_example_rows_with_different_inputs(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("id,ex,prompt,a,b,p\nr1,e1,Same,x,y,a\nr2,e1,Same,x,z,b\nr3,e1,Other,y,z,a\nr4,e2,Q,x,y,a\n")
    m = MAP + ",example_id=ex"
    with pytest.raises(InvalidInputError, match=r"x\.csv, line 4, field 'prompt': example 'e1' has a different "
                                                r"input text than on line 2"):
        load_dataset(p, mapping=m)
    ds = load_dataset(p, mapping=m, skip_invalid=True)
    assert ds.report.rows_rejected == 1 and ds.example_map()["e1"].input == "Same" and len(ds.pairs) == 3


def test_paper_formats_check_the_input_too(tmp_path):
    row, _ = PAPER_ROWS["shp"]
    other = {**row, "history": "Another history", "c_root_id_B": "c"}
    p = _jsonl(tmp_path / "x.jsonl", [row, other])
    with pytest.raises(InvalidInputError, match=r"line 2, field 'history': example 'p' has a different history"):
        load_dataset(p)


# -- issue 19: equal mean ratings are ties (TL;DR axis too) ----------------------------------------
def test_tldr_axis_equal_means_are_ties(tmp_path):
    def rating(text, overall, worker):
        return {"info": {"id": "t3_p", "post": "A post."}, "summary": {"text": text, "axes": {"overall": overall}},
                "worker": worker}

    # X: workers gave 1.1 and 2.2 (mean 1.65 exactly, 1.6500000000000001 in floats); Y: 1.65; Z: 7
    p = _jsonl(tmp_path / "a.jsonl", [rating("X", 1.1, "w1"), rating("X", 2.2, "w2"), rating("Y", 1.65, "w3"),
                                      rating("Z", 7, "w4")])
    assert (1.1 + 2.2) / 2 != 1.65
    r = load_dataset(p).report
    assert (r.pairs_built, r.ties_dropped) == (2, 1)
