"""Property tests of the readers (hypothesis): what is written is read back unchanged, and every
row of a file is either loaded or rejected, never lost or split."""

from __future__ import annotations

import csv
import io
import json

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from profile_align.data.loaders import load_dataset, read_records

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
MAP = "id=id,input=prompt,output_a=a,output_b=b,preferred=p"

# any text a JSON or CSV writer can write (no surrogates), including U+2028/U+2029/U+0085 and "\r"
texts = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40).filter(lambda s: s.strip())
keys = st.text(st.characters(whitelist_categories=("Ll", "Lu", "Nd")), min_size=1, max_size=8)
# garbage lines: anything but a line break, a quote or "-" (so a garbage line can never repeat a valid id)
garbage = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters='\n\r"-'), max_size=60)


@SETTINGS
@given(rows=st.lists(st.dictionaries(keys, texts, min_size=1, max_size=4), min_size=1, max_size=8),
       bom=st.booleans(), crlf=st.booleans(), ascii_only=st.booleans())
def test_jsonl_round_trip(tmp_path, rows, bom, crlf, ascii_only):
    p = tmp_path / "x.jsonl"
    sep = "\r\n" if crlf else "\n"
    p.write_bytes((b"\xef\xbb\xbf" if bom else b"")
                  + sep.join(json.dumps(r, ensure_ascii=ascii_only) for r in rows).encode("utf-8") + b"\n")
    recs = list(read_records(p))
    assert [(r.line, r.data, r.error) for r in recs] == [(i, row, None) for i, row in enumerate(rows, start=1)]


@SETTINGS
@given(header=st.lists(keys, min_size=1, max_size=5, unique=True), data=st.data(), bom=st.booleans(),
       terminator=st.sampled_from(["\n", "\r\n"]), delimiter=st.sampled_from([",", "\t"]))
def test_csv_round_trip(tmp_path, header, data, bom, terminator, delimiter):
    rows = data.draw(st.lists(st.lists(texts, min_size=len(header), max_size=len(header)), max_size=6))
    # csv.writer leaves a "\r" unquoted when the line terminator is "\n": such a file is not valid CSV
    assume(terminator == "\r\n" or not any("\r" in c for row in rows for c in row))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=terminator, delimiter=delimiter)
    w.writerow(header)
    w.writerows(rows)
    p = tmp_path / ("x.csv" if delimiter == "," else "x.tsv")
    p.write_bytes((b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode("utf-8"))
    recs = list(read_records(p))
    assert [r.error for r in recs] == [None] * len(rows)
    assert [r.data for r in recs] == [dict(zip(header, row)) for row in rows]


def _valid(i: int, text: str) -> dict:
    return {"id": f"v-{i}", "prompt": f"prompt {i} {text}", "a": f"first {i}", "b": f"second {i}", "p": "a"}


@SETTINGS
@given(valid_texts=st.lists(texts, min_size=1, max_size=8), junk=st.lists(garbage, max_size=8), data=st.data())
def test_jsonl_every_row_is_loaded_or_rejected(tmp_path, valid_texts, junk, data):
    lines = [json.dumps(_valid(i, t), ensure_ascii=False) for i, t in enumerate(valid_texts)]
    for g in junk:
        lines.insert(data.draw(st.integers(0, len(lines))), g)
    p = tmp_path / "x.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    r = load_dataset(p, mapping=MAP, skip_invalid=True).report
    assert r.rows_read == sum(1 for line in lines if line.strip())
    assert r.rows_read == r.rows_valid + r.rows_rejected and r.rows_valid >= len(valid_texts)
    assert r.pairs_built >= len(valid_texts)


def _csv_record(cells: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow(cells)  # "\r\n": a "\r" in a cell gets quoted
    return buf.getvalue()


@SETTINGS
@given(valid_texts=st.lists(texts, min_size=1, max_size=8), junk=st.lists(garbage, max_size=8),
       stray_quote=st.booleans(), data=st.data())
def test_csv_every_row_is_loaded_or_rejected(tmp_path, valid_texts, junk, stray_quote, data):
    """Rows read == rows in the file == valid + rejected, even after a quote that is never closed."""
    recs = [("valid", _csv_record(list(_valid(i, t).values()))) for i, t in enumerate(valid_texts)]
    extra = [("junk", g + "\n") for g in junk] + ([("junk", 'x,"' + data.draw(garbage) + "\n")] if stray_quote else [])
    for item in extra:
        recs.insert(data.draw(st.integers(0, len(recs))), item)
    p = tmp_path / "x.csv"
    p.write_text("id,prompt,a,b,p\n" + "".join(text for _, text in recs), encoding="utf-8")
    ds = load_dataset(p, mapping=MAP, skip_invalid=True)
    r = ds.report
    in_file = sum(1 for kind, text in recs if kind == "valid" or any(c.strip() for c in text.split(",")))
    assert r.rows_read == in_file == r.rows_valid + r.rows_rejected
    assert {f"v-{i}" for i in range(len(valid_texts))} <= {e.id for e in ds.examples}
