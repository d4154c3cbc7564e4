"""probe: the battery is scored correctly (fake backends with known right and wrong answers)."""

from __future__ import annotations

import json
import re
from importlib import resources

import pytest
from typer.testing import CliRunner

from profile_align.backends import Client
from profile_align.backends.base import BackendError
from profile_align.backends.fake import FakeBackend, last_user
from profile_align.cli import app
from profile_align.diagnostics import PROBE_TASKS, run_probe
from profile_align.diagnostics.probe import load_probe_prompt, probe_items

ITEMS = probe_items()
GOOD_FACTS = {
    "f1": ["Maria Lopez is a nurse.", "Maria Lopez is from Valencia.", "Maria Lopez adopted two cats.",
           "Maria Lopez adopted the cats in May."],
    "f2": ["The bridge opened in 1932.", "The bridge is 503 metres long.", "The bridge carries six lanes of traffic."],
}


def _first_summary(prompt: str) -> str:
    return re.search(r"SUMMARY 1:\n(.*)\n\nSUMMARY 2:", prompt, re.S).group(1)


def oracle(request):
    u = last_user(request)
    if request.prompt_type == "probe_support":
        it = next(i for i in ITEMS["support"] if i["statement"] in u)
        return {"supported": it["expected"] == "yes"}
    if request.prompt_type == "probe_pairwise":
        first = _first_summary(u)
        it = next(i for i in ITEMS["pairwise"] if first in (i["good"], i["bad"]))
        return {"better": "1" if first == it["good"] else "2"}
    it = next(i for i in ITEMS["facts"] if i["text"] in u)
    return {"facts": GOOD_FACTS[it["id"]]}


def lazy(request):
    """Always "yes", always the first summary, and the whole sentence as its only fact."""
    u = last_user(request)
    if request.prompt_type == "probe_support":
        return {"supported": True}
    if request.prompt_type == "probe_pairwise":
        return {"better": "1"}
    return {"facts": [u.split("SENTENCE:\n", 1)[1].strip()]}


def client(rule):
    return Client(FakeBackend("json", rule=rule), cache_mode="off", progress=False, max_retries=0)


def summary(result):
    return {r["task"]: r for r in result.summary.to_dict("records")}


def test_oracle_scores_everything_right():
    res = run_probe(client(oracle))
    s = summary(res)
    assert [s[t]["accuracy"] for t in ("support", "pairwise", "facts")] == [1.0, 1.0, 1.0]
    assert (s["support"]["n"], s["pairwise"]["n"], s["facts"]["n"]) == (8, 6, 2)
    assert s["pairwise"]["position_consistent"] == 3 and s["pairwise"]["n_pairs"] == 3
    assert s["pairwise"]["first_position_win_rate"] == pytest.approx(0.5)
    assert s["support"]["yes_share"] == pytest.approx(0.5)
    assert res.calls["json_valid"].all() and not res.calls["failed"].any()
    assert len(res.answers) == 16 and set(res.answers["stage"]) == {"probe"}


def test_lazy_judge_scores_chance_and_no_consistency():
    s = summary(run_probe(client(lazy)))
    assert s["support"]["correct"] == 4 and s["support"]["yes_share"] == 1.0
    assert s["pairwise"]["correct"] == 3 and s["pairwise"]["position_consistent"] == 0
    assert s["pairwise"]["first_position_win_rate"] == 1.0
    assert s["facts"]["correct"] == 0 and s["facts"]["json_valid"] == 2   # valid JSON, but a copy of the sentence


def test_facts_scoring_checks_count_keywords_and_copies():
    def wrong_count(request):
        if request.prompt_type == "probe_facts" and "bridge" in last_user(request):
            return {"facts": ["The bridge opened in 1932."]}  # too few facts
        return oracle(request)

    def missing_keyword(request):
        if request.prompt_type == "probe_facts" and "bridge" in last_user(request):
            return {"facts": ["The bridge opened in 1932.", "The bridge is long.", "The bridge carries traffic."]}
        return oracle(request)

    assert summary(run_probe(client(wrong_count), tasks=["facts"]))["facts"]["correct"] == 1
    assert summary(run_probe(client(missing_keyword), tasks=["facts"]))["facts"]["correct"] == 1


def test_invalid_json_and_failed_requests_count_as_wrong():
    res = run_probe(client(lambda r: "I am not sure, maybe yes"), tasks=["support", "pairwise"])
    s = summary(res)
    assert s["support"]["json_valid"] == 0 and s["support"]["correct"] == 0 and s["pairwise"]["correct"] == 0
    res = run_probe(client(lambda r: BackendError("HTTP 400")), tasks=["support"])
    s = summary(res)
    assert s["support"]["failed"] == 8 and s["support"]["correct"] == 0 and s["support"]["json_valid"] == 0
    assert res.calls["error"].str.contains("HTTP 400").all()


def test_schema_invalid_reply_is_not_valid():
    s = summary(run_probe(client(lambda r: {"better": "first"}), tasks=["pairwise"]))
    assert s["pairwise"]["json_valid"] == 0 and s["pairwise"]["correct"] == 0


def test_prompts_are_versioned_and_hold_no_placeholders():
    for name in ("probe_support", "probe_pairwise", "probe_facts"):
        p = load_probe_prompt(name)
        assert p.version == "1" and p.system and p.user
        assert "..." not in p.system + p.user
    calls = [c for t in PROBE_TASKS.values() for c in t.build(ITEMS)]
    assert {c.request.prompt_version for c in calls} == {"probe_support@1", "probe_pairwise@1", "probe_facts@1"}
    assert all(c.request.temperature == 0.0 for c in calls)
    assert resources.files("profile_align.diagnostics").joinpath("probe_items.json").is_file()
    with pytest.raises(ValueError, match="unknown probe task"):
        run_probe(client(oracle), tasks=["nope"])


def test_probe_cli_json_and_fail_under():
    res = CliRunner().invoke(app, ["probe", "--model", "fake:json", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    acc = {r["task"]: r["accuracy"] for r in data["summary"]}
    assert acc["support"] == 0.5 and acc["pairwise"] == 0.5 and acc["facts"] == 0.0
    res = CliRunner().invoke(app, ["probe", "--model", "fake:json", "--fail-under", "0.9"])
    assert res.exit_code == 1
    assert "overall accuracy 7/16" in res.output


@pytest.mark.smoke
def test_probe_runs_on_smollm2():
    """Plumbing only: SmolLM2's answers are not asserted to be right."""
    pytest.importorskip("llama_cpp")
    try:
        from profile_align.backends.weights import smollm2_path

        smollm2_path()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"smollm2 not installed: {exc}")
    res = run_probe("smollm2", tasks=["support"], progress=False)
    s = summary(res)["support"]
    assert s["n"] == 8 and 0 <= s["correct"] <= 8 and s["accuracy"] == pytest.approx(s["correct"] / 8)
    assert s["json_valid"] + s["failed"] <= 8


@pytest.mark.slow
def test_probe_on_the_local_model():
    pytest.importorskip("llama_cpp")
    res = run_probe("local", progress=False)
    s = summary(res)
    assert sum(r["n"] for r in s.values()) == 16
    assert res.calls["json_valid"].mean() >= 0.9  # grammar-constrained JSON (measured 16/16)
