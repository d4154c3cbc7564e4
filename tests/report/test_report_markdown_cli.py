"""--format md, --figures DIR and the `report` command."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from profile_align.cli import app
from profile_align.rundir import RunDir

runner = CliRunner()


def test_markdown_has_the_same_tables(full_run, tmp_path):
    out = tmp_path / "r.md"
    res = runner.invoke(app, ["report", str(full_run), "-o", str(out), "--format", "md", "--figures",
                              str(tmp_path / "figs")])
    assert res.exit_code == 0, res.output
    md = out.read_text()
    for title in ("## Factor scores", "## Alignment with the human judge", "## Human vs model, factor by factor",
                  "## Evaluator position bias", "## Factor rankings", "## Experiment: factor guidance for the evaluator"):
        assert title in md
    al = RunDir(full_run).read_table("tables/alignment").set_index("judge")
    assert re.search(r"\| fake:evaluation \| evaluation \| fake:longer \| " + re.escape(f"{al.loc['fake:evaluation'].kendall_tau:+.3f}"), md)
    # figures: one PNG each, linked relative to the Markdown file
    pngs = sorted(p.name for p in (tmp_path / "figs").glob("*.png"))
    assert pngs == sorted(["factor_scores.png", "differences.png", "generation_vs_evaluation.png",
                           "evaluator_bias.png", "factor_correlation.png", "joint_effects.png",
                           "joint_correlation.png"])
    for p in pngs:
        assert f"](figs/{p})" in md
        assert (tmp_path / "figs" / p).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "*Omitted: not run (no experiments/improve/ in this run directory).*" in md


def test_markdown_without_figures_says_how_to_get_them(full_run, tmp_path):
    out = tmp_path / "r.md"
    assert runner.invoke(app, ["report", str(full_run), "-o", str(out), "--format", "md"]).exit_code == 0
    assert "write PNGs with `--figures DIR`" in out.read_text()


def test_cli_default_output_and_omitted_list(minimal_run):
    res = runner.invoke(app, ["report", str(minimal_run)])
    assert res.exit_code == 0, res.output
    assert (minimal_run / "report.html").exists()
    assert "omitted alignment: not in this run directory" in res.output


def test_cli_errors(tmp_path, full_run):
    res = runner.invoke(app, ["report", str(tmp_path / "missing")])
    assert res.exit_code == 2 and "run directory not found" in res.output
    res = runner.invoke(app, ["report", str(tmp_path)])
    assert res.exit_code == 2 and "not a run directory" in res.output
    res = runner.invoke(app, ["report", str(full_run), "--format", "pdf", "-o", str(tmp_path / "x")])
    assert res.exit_code != 0 and "--format must be one of html, md" in res.output
