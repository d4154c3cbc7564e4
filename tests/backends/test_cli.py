from __future__ import annotations

import json

from typer.testing import CliRunner

from profile_align.backends.cli import app


def test_check_fake_json():
    result = CliRunner().invoke(app, ["check", "--model", "fake:fenced-json", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["ok"] and data["answer"] == {"supported": True, "reason": "x"}
    assert {"model", "latency_s", "prompt_tokens", "completion_tokens"} <= set(data)


def test_check_table_and_failure():
    ok = CliRunner().invoke(app, ["check", "--model", "fake:json"])
    assert ok.exit_code == 0 and "latency_s" in ok.output
    bad = CliRunner().invoke(app, ["check", "--model", "fake:malformed"])
    assert bad.exit_code == 1


def test_list():
    out = CliRunner().invoke(app, ["list"]).output
    assert "openai-compat" in out and "local" in out
