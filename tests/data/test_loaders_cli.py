"""Loading options on the command line: --map (comma form), --label-map, --skip-invalid's list of
skipped rows (next to the outputs, and in a run directory), and clear errors without a traceback."""

from __future__ import annotations

import csv

import pytest

from profile_align.cli import main

MAP = "id=id,input=prompt,output_a=a,output_b=b,preferred=p"


@pytest.fixture
def labelled(tmp_path):
    p = tmp_path / "prefs.csv"
    rows = ["id,prompt,a,b,p"] + [f"r{i},prompt {i},{'long ' * (i % 5 + 1)}x,short,{i % 2}" for i in range(30)]
    rows += ["r90,prompt 90,x,y,7", "r91,prompt 91,x,y,", 'r92,"unterminated,x,y,0']
    p.write_text("\n".join(rows) + "\n")
    return p


def _main(capsys, *argv):
    try:
        main(list(argv))
        code = 0
    except SystemExit as e:
        code = e.code
    cap = capsys.readouterr()
    assert "Traceback" not in cap.out + cap.err
    return code, cap.out, cap.err


def test_comma_map_label_map_and_skipped_rows_next_to_the_output(tmp_path, labelled, capsys):
    out = tmp_path / "out" / "human.json"
    code, _, err = _main(capsys, "score", str(labelled), "--map", MAP, "--label-map", "0=b,1=a",
                         "--skip-invalid", "--n-boot", "0", "-o", str(out))
    assert code == 0, err
    listed = tmp_path / "out" / "human.skipped_rows.csv"
    assert str(listed) in "".join(err.split())  # the terminal says where the list is (rich wraps anywhere)
    rows = list(csv.DictReader(listed.open()))
    assert [(int(r["line"]), r["field"]) for r in rows] == [(32, "p"), (33, "p"), (34, "")]
    assert "33 rows read" in " ".join(err.split()) and "3 rows rejected" in " ".join(err.split())
    assert out.exists()


def test_repeated_map_items_still_work(tmp_path, labelled, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no output file: the list goes to the current directory
    code, _, err = _main(capsys, "score", str(labelled), "--n-boot", "0", "--skip-invalid",
                         *[x for item in MAP.split(",") for x in ("--map", item)], "--label-map", "0=b,1=a")
    assert code == 0 and "3 rows rejected" in " ".join(err.split())
    assert "listed in skipped_rows.csv" in " ".join(err.split()) and (tmp_path / "skipped_rows.csv").exists()


def test_numbers_without_a_label_map_are_a_clear_error(labelled, capsys):
    labelled.write_text("".join(labelled.read_text().splitlines(keepends=True)[:31]))  # the 30 labelled rows
    code, _, err = _main(capsys, "score", str(labelled), "--map", MAP, "--n-boot", "0")
    assert code == 2
    text = " ".join(err.split())
    assert "prefs.csv, line 2, field 'p'" in text and "'0' (lines 2, 4, 6, 8, 10, ... (15 rows))" in text
    assert "--label-map" in text


def test_bad_map_item_is_a_usage_error(labelled, capsys):
    code, _, err = _main(capsys, "score", str(labelled), "--map", "input=prompt,colour", "--n-boot", "0")
    assert code == 2 and "bad mapping item 'colour'" in " ".join(err.split())


def test_run_directory_gets_the_skipped_rows(tmp_path, labelled, capsys):
    from profile_align.pipeline import run

    cfg = {"name": "t", "dataset": {"source": str(labelled), "skip_invalid": True, "label_map": {0: "b", 1: "a"},
                                    "mapping": dict(x.split("=") for x in MAP.split(","))},
           "factors": {"names": ["length"]}, "judges": [], "stats": {"n_boot": 10, "difference_boot": 10}}
    run(cfg, tmp_path / "run", progress=False)
    cap = capsys.readouterr()
    said = "".join((cap.out + cap.err).split())  # rich wraps long paths anywhere
    listed = tmp_path / "run" / "skipped_rows.csv"
    assert f"3invalidinputrowsskipped,alllistedin{listed}" in said
    assert [r["line"] for r in csv.DictReader(listed.open())] == ["32", "33", "34"]
