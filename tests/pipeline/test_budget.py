"""`run --max-requests N` stops cleanly at the limit (exit 7) and a rerun resumes from the cache."""

import json

import yaml
from typer.testing import CliRunner

from profile_align.backends.budget import Budget, BudgetExceeded
from profile_align.cli import app
from profile_align.cli_errors import EXIT_BUDGET

CONFIG = {"name": "budget", "dataset": {"source": "summeval"},
          "sample": {"examples": 1, "pairs_per_example": 3, "seed": 0},
          "factors": {"names": ["length"]}, "stats": {"n_boot": 0},
          "judges": [{"model": "fake:json", "name": "f", "settings": ["evaluation"]}]}


def test_budget_counts_and_stops():
    b = Budget(max_requests=2)
    b.take(), b.take()
    try:
        b.take()
        raise AssertionError("no stop")
    except BudgetExceeded as e:
        assert "2 new LLM requests" in str(e)
    c = Budget(max_cost_usd=0.01)
    c.spend(0.02)
    try:
        c.take()
        raise AssertionError("no stop")
    except BudgetExceeded:
        pass


def test_run_stops_at_max_requests_and_resumes(tmp_path):
    p, out = tmp_path / "c.yaml", tmp_path / "r"
    p.write_text(yaml.safe_dump(CONFIG))
    runner = CliRunner()
    res = runner.invoke(app, ["run", str(p), "--out", str(out), "--quiet", "--max-requests", "2"])
    assert res.exit_code == EXIT_BUDGET, res.output
    assert "--max-requests" in res.output and "Traceback" not in res.output
    assert (out / "cache.sqlite").exists()  # kept: the two answers paid for are reused by the rerun
    res = runner.invoke(app, ["run", str(p), "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    m = json.loads((out / "manifest.json").read_text())
    assert m["status"] == "complete"
    assert m["judges"][0]["n_pairs"] == 3
    assert (m["usage"]["cached"], m["usage"]["new_requests"]) == (2, 4)  # nothing paid twice


def test_no_factors_section_warns_before_starting(tmp_path):
    cfg = {k: v for k, v in CONFIG.items() if k != "factors"}
    cfg["dataset"] = {"source": "summeval", "task": "summarization"}
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(cfg))
    res = CliRunner().invoke(app, ["run", str(p), "--out", str(tmp_path / "r"), "--quiet", "--max-requests", "0"])
    assert res.exit_code == EXIT_BUDGET, res.output
    assert "no `factors:` in the config" in res.output and "LLM factors" in res.output
    assert "--dry-run" in res.output
