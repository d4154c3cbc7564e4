import json

import pytest
from typer.testing import CliRunner

from profile_align.cli import app

runner = CliRunner()


def run(*args):
    res = runner.invoke(app, list(args))
    return res


def test_help_lists_commands():
    res = run("--help")
    assert res.exit_code == 0
    for cmd in ("factors", "score", "align", "datasets", "taxonomy"):
        assert cmd in res.output


def test_score_on_shipped_summeval_prints_ranked_table_with_cis(tmp_path):
    res = run("score", "summeval", "--n-boot", "200", "-o", str(tmp_path / "h.json"))
    assert res.exit_code == 0, res.output
    assert "length" in res.output and "novel words" in res.output
    assert "95% CI" in res.output and "2040 pairs" in res.output
    data = json.loads((tmp_path / "h.json").read_text())
    assert data["judge"] == "human" and data["factor_names"] == ["length", "novel_words"]
    # each rank with the share of resamples keeping it and its interval, e.g. "100% [1-1]"
    assert "rank kept" in res.output
    for kept, lo, hi in zip(data["rank_kept"], data["rank_ci_low"], data["rank_ci_high"]):
        assert f"{kept:.0%} [{int(lo)}-{int(hi)}]" in res.output


def test_factors_then_score_then_align(tmp_path):
    f = tmp_path / "factors.parquet"
    assert run("factors", "summeval", "--task", "summarization", "-o", str(f)).exit_code == 0
    assert f.exists()
    h, r = tmp_path / "h.json", tmp_path / "r.json"
    sel = "length,novel_words,n_novel_words"
    # the task's factor table has no ratio column: a clear error, not a crash
    bad = run("score", "summeval", "--factors", str(f), "--select", sel, "-o", str(h))
    assert bad.exit_code == 2 and "n_novel_words" in bad.output and "Traceback" not in bad.output
    assert run("factors", "summeval", "--select", sel, "-o", str(f)).exit_code == 0
    assert run("score", "summeval", "--factors", str(f), "--select", sel, "--n-boot", "100", "-o", str(h)).exit_code == 0
    assert run("score", "summeval", "--select", sel, "--aspect", "relevance", "--name", "relevance",
               "--n-boot", "100", "-o", str(r)).exit_code == 0
    out = tmp_path / "align.json"
    res = run("align", str(h), str(r), "--n-boot", "200", "-o", str(out))
    assert res.exit_code == 0, res.output
    assert "Kendall tau" in res.output and "relevance" in res.output
    payload = json.loads(out.read_text())
    assert payload["alignment"]["n_factors"] == 3
    al = payload["alignment"]
    assert al["n_boot"] == 200 and al["kendall_ci_low"] <= al["kendall_tau"] <= al["kendall_ci_high"]
    assert f"[{al['kendall_ci_low']:+.3f}, {al['kendall_ci_high']:+.3f}]" in res.output
    assert {d["factor"] for d in payload["differences"]} == set(sel.split(","))


def test_score_csv_output(tmp_path):
    out = tmp_path / "s.csv"
    assert run("score", "llmbar", "--n-boot", "0", "-o", str(out)).exit_code == 0
    assert out.read_text().startswith("factor,")


def test_generic_mapping_and_bad_input_errors(tmp_path):
    p = tmp_path / "mine.jsonl"
    rows = [{"q": f"question {i}", "r1": "short", "r2": "a much longer answer " * (i + 1), "w": "b" if i % 3 else "a"}
            for i in range(6)]
    p.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    res = run("score", str(p), "--format", "generic", "--map", "input=q", "--map", "output_a=r1",
              "--map", "output_b=r2", "--map", "preferred=w", "--n-boot", "0")
    assert res.exit_code == 0, res.output
    assert "6 pairs" in res.output
    # malformed line: exit code 2 and the message names the file and the line
    p.write_text(p.read_text() + "{not json\n")
    res = run("score", str(p), "--format", "generic", "--map", "input=q", "--map", "output_a=r1",
              "--map", "output_b=r2", "--map", "preferred=w")
    assert res.exit_code != 0
    msg = str(res.exception) + res.output
    assert "line 7" in msg and "mine.jsonl" in msg


def test_datasets_and_taxonomy():
    res = run("datasets")
    assert res.exit_code == 0 and "summeval" in res.output and "webgpt" in res.output
    res = run("taxonomy", "--task", "document_qa")
    assert res.exit_code == 0 and "receptive" in res.output


def test_main_turns_input_errors_into_exit_2(tmp_path, capsys):
    from profile_align.cli import main

    bad = tmp_path / "x.jsonl"
    bad.write_text('{"a": 1}\n')
    with pytest.raises(SystemExit) as e:
        main(["score", str(bad)])
    assert e.value.code == 2
    assert "x.jsonl" in capsys.readouterr().err
