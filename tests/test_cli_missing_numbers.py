"""Say why a number is missing and refuse mismatched inputs (score / align on the command line)."""

import json

from typer.testing import CliRunner

from profile_align.cli import app
from profile_align.cli_errors import EXIT_BAD_INPUT

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_factor_table_of_another_data_set_is_an_error_with_counts(tmp_path):
    f = tmp_path / "f.parquet"
    assert invoke("factors", "summeval", "--select", "length", "-o", f).exit_code == 0
    res = invoke("score", "hh-rlhf", "--factors", f)
    assert res.exit_code == EXIT_BAD_INPUT
    assert "0 of 400 outputs of hh-rlhf matched the factor table (302 rows)" in res.output


def test_n_boot_0_has_no_ci_column_and_align_explains_undefined_and_writes_null(tmp_path):
    a, b, out = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "al.json"
    res = invoke("score", "summeval", "--select", "length,novel_words", "--n-boot", "0", "-o", a)
    assert res.exit_code == 0 and "95% CI" not in res.output and "no CI (--n-boot 0)" in res.output
    assert invoke("score", "summeval", "--select", "length,novel_words", "--aspect", "relevance",
                  "--n-boot", "20", "-o", b).exit_code == 0
    res = invoke("align", a, b, "--n-boot", "50", "-o", out)
    assert res.exit_code == 0, res.output
    assert "only 2 factor(s) scored by both judges, need at least 3" in res.output
    assert "human (a)" in res.output and "human (b)" in res.output  # same judge name told apart
    assert "after Holm adjustment" in res.output
    text = out.read_text()
    assert "NaN" not in text
    payload = json.loads(text)
    assert payload["alignment"]["kendall_tau"] is None
    assert all("significant_holm" in r for r in payload["differences"])


def test_score_files_without_common_examples_are_refused(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert invoke("score", "summeval", "--select", "length", "--n-boot", "0", "-o", a).exit_code == 0
    assert invoke("score", "hh-rlhf", "--select", "length", "--n-boot", "0", "-o", b).exit_code == 0
    res = invoke("align", a, b)
    assert res.exit_code == EXIT_BAD_INPUT and "share no example: 0 of 20 examples" in res.output


def test_plain_reading_is_the_concordant_share_of_decisive_pairs():
    from profile_align.report.findings import plain_reading

    # C=56, D=44: tau_14 over decisive pairs only would be +0.12; the share is 56 / 100
    assert plain_reading("length", 0.11, 56, 44) == \
        "+0.11: in decisive pairs the text with more length is preferred 56% of the time (of 100)"
    assert plain_reading("length", float("nan"), 0, 0).startswith("no decisive pair")


def test_score_prints_a_reading_per_factor():
    res = invoke("score", "summeval", "--select", "length", "--n-boot", "0")
    # summeval human, length: C=984, D=1018 (hand count from the table) -> 49%
    assert "length: -0.02: in decisive pairs the text with more length is preferred 49% of the time (of 2,002)" \
        in res.output


def test_a_factor_without_variation_is_marked_and_not_ranked(tmp_path):
    p = tmp_path / "p.csv"
    p.write_text("prompt,r1,r2,winner\nq1,aa bb,cc dd,a\nq2,ee ff,gg hh,b\nq3,ii jj,kk ll,a\n")
    res = invoke("score", p, "--format", "generic", "--map", "input=prompt,output_a=r1,output_b=r2,preferred=winner",
                 "--select", "length", "--n-boot", "0")
    assert res.exit_code == 0, res.output
    row = next(line for line in res.output.splitlines() if "no variation" in line)
    assert row.split("│")[1].strip() == "-"  # no rank
