"""Malformed input: a clear error naming file, line and field, or a counted skip."""

import pytest

from profile_align.data import InvalidInputError
from profile_align.data.loaders import load_dataset

CASES = [
    # file, format, line, field, message fragment, pairs left with skip_invalid
    ("bad_json.jsonl", "shp", 2, None, "invalid JSON", 2),
    ("missing_field.jsonl", "tldr_axis", 2, "info.post", "missing field", 1),
    ("wrong_type.jsonl", "webgpt", 3, "score_0", "expected number, got str", 2),
    ("empty_text.jsonl", "llmbar", 2, "output_b", "empty text", 2),
    ("duplicate_id.jsonl", "llmbar", 3, "id", "duplicate id 'llmbar-natural-001' (first seen on line 2)", 2),
]


@pytest.mark.parametrize("name,fmt,line,field,msg,pairs", CASES)
def test_error_names_file_line_field(fixtures, name, fmt, line, field, msg, pairs):
    with pytest.raises(InvalidInputError) as ei:
        load_dataset(fixtures / name)
    e = ei.value
    assert e.path.endswith(name) and e.line == line and e.field == field
    text = str(e)
    assert name in text and f"line {line}" in text and msg in text
    if field:
        assert f"field {field!r}" in text


@pytest.mark.parametrize("name,fmt,line,field,msg,pairs", CASES)
def test_skip_invalid_counts(fixtures, name, fmt, line, field, msg, pairs):
    ds = load_dataset(fixtures / name, skip_invalid=True)
    r = ds.report
    assert r.format == fmt and r.rows_read == 3 and r.rows_rejected == 1 and r.pairs_built == pairs
    rej = r.rejected[0]
    assert (rej.line, rej.field) == (line, field) and msg in rej.reason
    assert any(name in s and "rejected" in s for s in r.summary_lines())
    assert r.to_dict()["rows_rejected"] == 1


def test_bad_values(tmp_path):
    p = tmp_path / "c.jsonl"
    p.write_text('{"info": {"id": "t3_x", "post": "p"}, "summaries": [{"text": "a"}, {"text": "b"}], "choice": 2}\n')
    with pytest.raises(InvalidInputError, match=r"line 1, field 'choice': expected 0 or 1"):
        load_dataset(p)
    p.write_text('{"id": "x", "instruction": "i", "output_a": "a", "output_b": "b", "preferred": "c"}\n')
    with pytest.raises(InvalidInputError, match=r"field 'preferred': expected a, b or tie"):
        load_dataset(p)
    p.write_text('{"post_id": "p", "domain": "d", "history": "h", "human_ref_A": "a", "human_ref_B": "b", "labels": 3}\n')
    with pytest.raises(InvalidInputError, match=r"field 'labels': expected 1 \(A preferred\) or 0"):
        load_dataset(p)


def test_shp_duplicate_comparison(tmp_path, fixtures):
    line = (fixtures / "shp.jsonl").read_text().splitlines()[0]
    p = tmp_path / "dup.jsonl"
    p.write_text(line + "\n" + line + "\n")
    with pytest.raises(InvalidInputError, match=r"line 2, field 'post_id': duplicate comparison"):
        load_dataset(p)


def test_unknown_format_lists_known(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text('{"foo": 1}\n')
    with pytest.raises(InvalidInputError, match=r"cannot detect the format") as ei:
        load_dataset(p)
    assert all(name in str(ei.value) for name in ("tldr_axis", "tldr_comparisons", "shp", "webgpt", "llmbar"))
    with pytest.raises(ValueError, match="unknown format 'nope'; known formats: .*generic"):
        load_dataset(p, format="nope")
    with pytest.raises(ValueError, match="needs a column mapping"):
        load_dataset(p, format="generic")


def test_bad_options(fixtures):
    with pytest.raises(ValueError, match="unknown aspect"):
        load_dataset("summeval", aspect="style")
    with pytest.raises(ValueError, match="limit"):
        load_dataset("llmbar", limit=0)
