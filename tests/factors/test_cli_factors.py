"""`profile-align factors` with a model and `validate-factors` (fake backend, no network)."""

from __future__ import annotations

from typer.testing import CliRunner

from profile_align.cli import app
from profile_align.rundir import RunDir

runner = CliRunner()


def test_factors_without_model_lists_skipped_factors(tmp_path):
    r = runner.invoke(app, ["factors", "summeval", "--limit", "1", "-o", str(tmp_path / "f.parquet")])
    assert r.exit_code == 0, r.output
    assert "hallucination: needs a model backend" in r.output


def test_factors_with_a_degenerate_fake_model_fails_loudly(tmp_path):
    # fake:json answers every schema with a placeholder and gives no yes/no logprobs: the UniEval proxy
    # cannot be scored, which must show up as failures and a non-zero exit code.
    rd = tmp_path / "run"
    r = runner.invoke(app, ["factors", "summeval", "--limit", "1", "--model", "fake:json", "--run-dir", str(rd),
                            "--select", "n_facts,hallucination,fluency"])
    assert r.exit_code == 4, r.output  # EXIT_FAILURE_RATE
    assert "failure rate" in r.output and "unieval_fluency" in r.output
    run = RunDir(rd)
    table = run.read_factors()
    assert table.values["n_facts"].notna().all() and table.values["fluency"].isna().all()
    assert run.exists("cache.sqlite") and run.has_table("factor_details") and run.has_table("answers")


def test_validate_factors_writes_its_table(tmp_path):
    rd = tmp_path / "run"
    r = runner.invoke(app, ["validate-factors", "summeval", "--limit", "2", "--model", "fake:json",
                            "--run-dir", str(rd), "--n-boot", "50"])
    assert r.exit_code == 0, r.output
    assert "summary-level Kendall tau" in r.output and "self-consistency" in r.output
    df = RunDir(rd).read_table("tables/factor_validation")
    assert {"coherence", "hallucination", "source_coverage"} <= set(df["factor"])
    assert set(df["check"]) >= {"human ratings"}


def test_validate_factors_select_restricts_factors_and_rejects_unknown(tmp_path):
    rd = tmp_path / "run"
    r = runner.invoke(app, ["validate-factors", "summeval", "--limit", "1", "--model", "fake:json",
                            "--run-dir", str(rd), "--n-boot", "20", "--select", "coherence,fluency",
                            "--no-self-consistency"])
    assert r.exit_code == 0, r.output
    df = RunDir(rd).read_table("tables/factor_validation")
    assert set(df["factor"]) == {"coherence", "fluency"}
    assert set(RunDir(rd).read_factors().factor_names) == {"coherence", "fluency"}
    bad = runner.invoke(app, ["validate-factors", "--limit", "1", "--model", "fake:json", "--select", "length"])
    assert bad.exit_code != 0 and "cannot validate" in bad.output


def _table_rows(output: str, first_header: str) -> list[list[str]]:
    """Body rows of the rich table whose header row starts with ``first_header``."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("┃") and
                 line.strip("┃ ").startswith(first_header))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("│"):
            break
        rows.append([c.strip() for c in line.strip("│").split("│")])
    return rows


def test_factor_table_and_usage_table_agree_on_unparseable_counts(tmp_path, monkeypatch):
    """Issue 12: `factors --model fake:json --limit 2` printed 98 unparseable in its factor table and
    `parse fail 0` in its usage table. Both now count the same call records."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "250")
    r = runner.invoke(app, ["factors", "summeval", "--model", "fake:json", "--limit", "2", "--no-cache"],
                      terminal_width=250)
    assert r.exit_code == 4, r.output  # EXIT_FAILURE_RATE: the UniEval proxy cannot be scored from fake:json
    factor_rows = {row[0]: row for row in _table_rows(r.output, "factor")}
    usage_rows = {row[2]: row for row in _table_rows(r.output, "backend")}
    # factor table: factor, extractor, computed, missing, mean, requests, failed, unparseable, ...
    # usage table: backend, model, prompt type, requests, cached, failed, unparseable, ...
    for factor, pt in (("fluency", "unieval_fluency"), ("coherence", "unieval_coherence")):
        f, u = factor_rows[factor], usage_rows[pt]
        assert f[5] == u[3] and f[7] == u[6] == f[5] != "0", (f, u)  # every UniEval-proxy answer unusable
    n_sentences = int(factor_rows["fluency"][5])
    assert n_sentences > int(factor_rows["coherence"][5]) == int(factor_rows["length"][2])  # one per output
    total = usage_rows.pop("")  # the total row has no prompt type
    assert total[0] == "total" and int(total[6]) == sum(int(u[6]) for u in usage_rows.values())
    assert int(total[6]) == int(factor_rows["fluency"][7]) + int(factor_rows["coherence"][7])
