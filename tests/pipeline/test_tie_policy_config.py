"""The run config's tie_policy (per judge) wins over the kind's default, and every output names it."""

from profile_align.backends.fake import FakeBackend, last_user
from profile_align.pipeline import ConfigError, load_config, run
from profile_align.rundir import RunDir


def rule(req):
    u = last_user(req)
    t1 = u.split("Summary 1:\n", 1)[1].split("\n\nSummary 2:")[0]
    t2 = u.split("Summary 2:\n", 1)[1].split("\n\nReply")[0]
    return {"better": "1" if len(t1) > len(t2) else "2", "justification": "longer"}


def test_configured_tie_policies_win_and_are_recorded(tmp_path):
    cfg = {"name": "tp", "dataset": {"source": "summeval", "tie_policy": "factor-ties-counted"},
           "sample": {"examples": 2, "pairs_per_example": 3, "seed": 1}, "factors": {"names": ["length"]},
           "judges": [{"model": "fakej", "name": "fk", "settings": ["evaluation"], "tie_policy": "drop-all"}],
           "stats": {"n_boot": 0, "difference_boot": 10}}
    run(cfg, tmp_path, backends={"fakej": FakeBackend("json", rule=rule)}, progress=False, print_summary=False)
    rd = RunDir(tmp_path)
    judges = {j["name"]: j for j in rd.read_manifest()["judges"]}
    assert judges["human"]["policy"] == "factor-ties-counted" and judges["fk:evaluation"]["policy"] == "drop-all"
    scores = rd.read_scores()
    assert scores["human"].policy.name == "factor-ties-counted" and scores["fk:evaluation"].policy.name == "drop-all"
    fs = rd.read_table("tables/factor_scores").set_index("judge")
    assert fs.loc["human", "policy"] == "factor-ties-counted" and "strength" in fs.loc["human", "tie_rule"]
    assert "every tied pair is omitted" in fs.loc["fk:evaluation", "tie_rule"]


def test_default_human_policy_and_unknown_names_rejected(tmp_path):
    cfg = load_config({"dataset": {"source": "summeval"},
                       "judges": [{"model": "m", "tie_policy": {"generation": "count-all"}}]})
    assert cfg.tie_policies() == {"m:generation": "count-all"}  # nothing configured: the kind's default
    rm = load_config({"dataset": {"source": "summeval"},
                      "reward_models": [{"name": "r", "model": "x", "tie_policy": {"evaluation": "drop-all"}}]})
    assert rm.tie_policies() == {"rm:r": "drop-all"}
    try:
        load_config({"dataset": {"source": "summeval"}, "judges": [{"model": "m", "tie_policy": "sometimes"}]})
    except ConfigError as e:
        assert "judges.0.tie_policy" in str(e) and "unknown tie policy" in str(e)
    else:
        raise AssertionError("an unknown tie policy must be a config error")


def test_report_names_each_judges_tie_policy(tmp_path):
    import pytest

    pytest.importorskip("matplotlib")
    from profile_align.report import write_report

    cfg = {"name": "tp", "dataset": {"source": "summeval"}, "sample": {"examples": 2, "pairs_per_example": 3},
           "factors": {"names": ["length"]}, "judges": [], "stats": {"n_boot": 0}}
    run(cfg, tmp_path, progress=False, print_summary=False)
    md = write_report(tmp_path, tmp_path / "r.md", fmt="md")
    text = (tmp_path / "r.md").read_text()
    assert "Tie policy of each judge's scores" in text
    assert "human rule (evaluation rule): factor-tied pairs omitted" in text
    assert md is not None
