"""Scripted degenerate judges, through the real Client + FakeBackend + SQLite cache: each raises exactly its
flag, a healthy judge raises none, and strict mode fails."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from profile_align.cli import app
from profile_align.diagnostics import STRICT_EXIT_CODE, RunFlagged, check_run, diagnose

from . import stages as S

CASES = [
    # (rule, stage, expected flags)
    (S.healthy_pairwise, "pairwise", set()),
    (S.fenced_pairwise, "pairwise", set()),          # fenced JSON is recovered by the parser: not a failure
    (S.healthy_verdict, "verdict", set()),
    (S.healthy_facts, "facts", set()),
    (S.constant_yes_verdict, "verdict", {"constant_judge"}),
    (S.constant_tie_pairwise, "pairwise", {"constant_judge"}),
    (S.position_only_pairwise, "pairwise", {"position_only"}),
    (S.echoing_facts, "facts", {"echoing_judge"}),
    (S.malformed_pairwise, "pairwise", {"high_failure_rate"}),
    (S.truncating_pairwise, "pairwise", {"high_truncation"}),
]


@pytest.mark.parametrize("rule,stage,expected", CASES, ids=[c[0].__name__ for c in CASES])
def test_each_scripted_judge_raises_exactly_its_flag(tmp_path, rule, stage, expected):
    rd = S.make_run(tmp_path, rule, stage)
    report = diagnose(rd)
    assert {f.flag for f in report.flags} == expected, [f.to_dict() for f in report.flags]
    for f in report.flags:
        assert f.model == "fake:scripted" and f.prompt_type and f.advice and f.evidence and f.counts


@pytest.mark.parametrize("rule,stage,expected", [c for c in CASES if c[2]], ids=[c[0].__name__ for c in CASES if c[2]])
def test_strict_cli_exits_non_zero_on_a_flag(tmp_path, rule, stage, expected):
    rd = S.make_run(tmp_path, rule, stage)
    res = CliRunner().invoke(app, ["diagnose", str(rd.path), "--strict"])
    assert res.exit_code == STRICT_EXIT_CODE, res.output
    manifest = rd.read_manifest()
    assert {f["flag"] for f in manifest["flags"]} == expected
    assert manifest["diagnostics"]["strict_failed"] is True
    assert {f["flag"] for f in json.loads((rd / "diagnostics.json").read_text())["flags"]} == expected


def test_strict_cli_exits_zero_for_a_healthy_judge(tmp_path):
    rd = S.make_run(tmp_path, S.healthy_pairwise)
    res = CliRunner().invoke(app, ["diagnose", str(rd.path), "--strict"])
    assert res.exit_code == 0, res.output
    assert "no judge flags raised" in res.output
    assert rd.read_manifest()["flags"] == []


def test_check_run_strict_raises_and_writes_first(tmp_path):
    rd = S.make_run(tmp_path, S.position_only_pairwise)
    with pytest.raises(RunFlagged) as exc:
        check_run(rd, strict=True, quiet=True)
    assert exc.value.exit_code == STRICT_EXIT_CODE
    assert any(r.startswith("position_only") for r in exc.value.reasons)
    assert rd.exists("diagnostics.json")
    assert rd.read_manifest()["flags"][0]["flag"] == "position_only"
    # non-strict: same flags, no exception
    report = check_run(rd, strict=False, quiet=True)
    assert [f.flag for f in report.flags] == ["position_only"]


def test_check_run_fails_on_overall_failure_rate_without_a_flag(tmp_path):
    rd = S.make_run(tmp_path, S.healthy_pairwise)
    # no failures: a failure-rate limit of 0 passes ...
    report = check_run(rd, strict=False, quiet=True, max_failure_rate=0.0)
    assert report.n_failed == 0 and report.exit_reasons() == []
    # ... and a malformed judge's 100% failures fail strict mode even with the flag threshold set high
    rd2 = S.make_run(tmp_path, S.malformed_pairwise, name="bad")
    with pytest.raises(RunFlagged) as exc:
        check_run(rd2, strict=True, quiet=True, thresholds={"max_failure_rate": 1.0}, max_failure_rate=0.5)
    assert any("failure rate 28/28" in r for r in exc.value.reasons)


def test_truncation_and_failure_counts_come_from_the_call_records(tmp_path):
    rd = S.make_run(tmp_path, S.truncating_pairwise)
    row = diagnose(rd).per_prompt.iloc[0]
    assert row["calls"] == 28 and row["truncated_calls"] == row["n_truncated"] > 0
    assert row["unparseable_calls"] == row["truncated_calls"]       # truncated JSON is unparseable ...
    assert row["n_failed"] == row["truncated_calls"]                # ... so a failure, the same count everywhere,
    assert [f.flag for f in diagnose(rd).flags] == ["high_truncation"]  # flagged as truncation, not twice
    # without the answers table the log alone still shows the truncation
    (rd / "answers.parquet").unlink()
    report = diagnose(rd)
    assert [f.flag for f in report.flags] == ["high_truncation"]
    assert any("no answers table" in n for n in report.notes)


def test_all_failed_prompt_type_without_answers_is_flagged(tmp_path):
    """A stage whose every request failed (no answers row at all) still shows up, from the call records."""
    from profile_align.backends import Client, Request
    from profile_align.backends.base import BackendError
    from profile_align.backends.fake import FakeBackend
    from profile_align.rundir import RunDir

    rd = RunDir(tmp_path / "r", create=True)
    client = Client(FakeBackend("json", rule=lambda r: BackendError("HTTP 400"), model_id="m"),
                    cache=rd / "cache.sqlite", progress=False, max_retries=0)
    out = client.run_all([Request.from_prompt(f"q{i}", prompt_type="intent_alignment") for i in range(5)])
    client.close()
    assert all(not hasattr(o, "text") for o in out)
    rd.write_json("usage.json", client.accounting.to_dict())
    report = diagnose(rd)
    assert [(f.flag, f.prompt_type) for f in report.flags] == [("high_failure_rate", "intent_alignment")]
    assert report.flags[0].counts["n_failed"] == 5 and "5/5" in report.flags[0].evidence


def test_printed_summary_lists_flags_and_failure_counts(tmp_path):
    rd = S.make_run(tmp_path, S.malformed_pairwise)
    res = CliRunner().invoke(app, ["diagnose", str(rd.path), "--no-write"])
    assert res.exit_code == 0
    assert "high_failure_rate" in res.output and "failed or unreadable answers: 28/28" in res.output
    assert not rd.exists("diagnostics.json")


def test_manifest_keeps_other_flags_and_replaces_ours(tmp_path):
    rd = S.make_run(tmp_path, S.healthy_pairwise)
    rd.update_manifest(flags=[{"flag": "duplicate_generations", "prompt_type": "scored_generation"},
                              {"flag": "constant_judge", "prompt_type": "pairwise_eval"}])
    check_run(rd, quiet=True)
    assert [f["flag"] for f in rd.read_manifest()["flags"]] == ["duplicate_generations"]
    d = rd.read_manifest()["diagnostics"]
    assert d["n_flags"] == 0 and d["failed"] == 0 and d["of"] == 28 and d["strict_failed"] is False
