"""`run --dry-run`: requests per prompt type, tokens, time and cost; no model is called, no run directory."""

import yaml
from typer.testing import CliRunner

from profile_align.cli import app
from profile_align.pipeline.estimate import estimate_run

CONFIG = {"name": "dry", "dataset": {"source": "summeval"},
          "sample": {"examples": 2, "pairs_per_example": 3, "seed": 0},
          "factors": {"names": ["length", "novel_words"]},
          "judges": [{"model": "openai:gpt-4o-mini", "name": "g",
                      "evaluation": {"both_orders": True}, "generation": {"variant": "per-level", "k": 4}}]}


def test_dry_run_counts_the_requests_and_calls_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # a real call (or even building the client) would fail
    est = estimate_run(CONFIG)
    by_type = {r.prompt_type: r for r in est.rows}
    assert by_type["pairwise_eval"].requests == 2 * 3 * 2          # examples x pairs x both orders
    assert by_type["scored_generation_level"].requests == 2 * 4    # examples x k (per-level)
    assert est.requests == 12 + 8 and set(by_type) == {"pairwise_eval", "scored_generation_level"}
    assert all(r.prompt_tokens > 0 for r in est.rows)
    assert est.cost_usd is not None and est.cost_usd > 0 and est.seconds > 0

    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump({**CONFIG, "out_dir": str(tmp_path / "out")}))
    res = CliRunner().invoke(app, ["run", str(p), "--dry-run"])
    assert res.exit_code == 0, res.output
    assert "total: 20 LLM requests" in res.output and "no model was called" in res.output
    assert not (tmp_path / "out").exists()


def test_factors_dry_run_counts_one_request_per_text_and_factor(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["factors", "summeval", "--limit", "1", "--model", "openai:gpt-4o-mini",
                                   "--select", "length,intent_alignment", "--dry-run"])
    assert res.exit_code == 0, res.output
    # summeval's first article has 16 system summaries, 15 distinct texts after merging identical ones:
    # intent alignment is one response-level request per distinct text
    from profile_align.data.loaders import load_dataset

    n_texts = len({o.text for o in load_dataset("summeval", limit=1).outputs})
    line = next(x for x in res.output.splitlines() if x.startswith("openai:gpt-4o-mini") and "intent_alignment" in x)
    assert int(line.split()[2]) == n_texts
    assert "no model was called" in res.output and not list(tmp_path.iterdir())  # nothing written
