"""profile-align overview: counts worked out by hand on the pairwise fixture; the report section."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from profile_align.cli import app
from profile_align.data.loaders import load_dataset
from profile_align.overview import data_overview
from profile_align.report.blocks import KeyValues, Table
from profile_align.report.build import RunData
from profile_align.report.overview_section import sec_overview
from profile_align.report.sections import Omitted

CONV = Path(__file__).parent / "data" / "fixtures" / "conventional"
LM = "0=tie,1=a,2=b"
# winners of the 12 rows: 2 1 0 2 2 1 2 1 2 2 1 1 (0 = tie, row 3); the shorter text wins rows 4 and 12
ROWS = [json.loads(x) for x in (CONV / "pairwise.jsonl").read_text().splitlines()]


def test_overview_numbers():
    ds = load_dataset(CONV / "pairwise.csv", label_map=LM)
    ov = data_overview(ds, n_boot=100)
    assert (ov.pairs, ov.examples, ov.clusters, ov.outputs, ov.ties_dropped) == (11, 11, 4, 22, 1)
    assert (ov.decisive, ov.longer_decided, ov.longer_preferred, ov.a_preferred) == (11, 11, 9, 5)
    assert ov.share_longer_preferred == pytest.approx(9 / 11) and ov.share_a_preferred == pytest.approx(5 / 11)
    win, lose = [], []
    for r in ROWS:
        if r["winner"] == 0:
            continue
        a, b = len(r["response_a"].split()), len(r["response_b"].split())
        win.append(a if r["winner"] == 1 else b)
        lose.append(b if r["winner"] == 1 else a)
    assert ov.mean_words_preferred == pytest.approx(sum(win) / 11)
    assert ov.mean_words_rejected == pytest.approx(sum(lose) / 11)
    length = ov.scores.to_frame().set_index("factor").loc["length"]
    assert (length.concordant, length.discordant) == (9, 2) and length.score == pytest.approx(7 / 11)
    assert length.ci_low <= length.score <= length.ci_high
    assert ov.to_dict()["share_a_preferred"] == pytest.approx(5 / 11)


def test_overview_command(tmp_path):
    res = CliRunner().invoke(app, ["overview", str(CONV / "pairwise.csv"), "--label-map", LM, "--n-boot", "100",
                                   "-o", str(tmp_path / "ov.json")])
    assert res.exit_code == 0, res.output
    assert "81.8% of 11 decisive pairs" in res.output and "45.5% of 11 decisive pairs" in res.output
    assert "11 in 4 bootstrap clusters" in res.output
    assert json.loads((tmp_path / "ov.json").read_text())["longer_preferred"] == 9


def test_overview_report_section():
    ds = load_dataset(CONV / "pairwise.csv", label_map=LM)
    blocks = sec_overview(RunData(Path("."), {}, dataset=ds))
    kv = next(b for b in blocks if isinstance(b, KeyValues))
    assert dict(kv.items)["preferred text is in position A"].startswith("45.5% of 11")
    table = next(b for b in blocks if isinstance(b, Table))
    assert table.rows[0][:2] == ["length", "+0.636"]
    with pytest.raises(Omitted, match="the data set"):
        sec_overview(RunData(Path("."), {}))


def test_readme_own_data_commands_run_and_show_real_output(tmp_path):
    import shlex

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    part = readme[readme.index("### From your own CSV to a report: three commands"):]
    blocks = part.split("```")
    commands = [line.split("  #")[0] for line in blocks[1].splitlines() if line.startswith("profile-align ")]
    assert len(commands) == 3
    import pandas as pd

    outputs = []
    for cmd in commands:
        args = shlex.split(cmd)[1:]
        args = [str(CONV / "pairwise.csv") if a == "pairwise.csv" else
                str(tmp_path / a) if a.endswith((".csv", ".json")) or a == "myrun" else a for a in args]
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 0, (cmd, res.output)
        outputs.append(res.output)
    shown_rows = [line.strip() for line in blocks[3].splitlines() if line.startswith("│ ")]
    assert len(shown_rows) == 9
    for row in shown_rows:
        assert row in outputs[0], row
    run_dir = tmp_path / "myrun"
    assert (run_dir / "scores" / "human.json").exists() and (run_dir / "scores" / "gpt4.json").exists()
    # the third command: a report with the key findings, the data overview and the scores per subgroup
    html = (run_dir / "report.html").read_text()
    for title in ("Key findings", "Data overview", "Factor scores per subgroup", "Alignment with the human judge"):
        assert f">{title}<" in html, title
    assert "Largest factors (by |tau_14|): human: length (+0.64); gpt4: length (+0.55)" in html
    # hand-checked against the README's table: human length +1.00 (cooking) vs +0.33 (tech)
    assert ("Largest difference between subgroups (domain): human: length from +0.33 (tech) to +1.00 (cooking); "
            "gpt4: length from +0.33 (tech) to +0.80 (cooking).") in html
    assert "human: tau_14 [95% CI] per domain" in html and "gpt4: tau_14 [95% CI] per domain" in html
    groups = pd.read_parquet(run_dir / "tables" / "group_scores.parquet")
    for r in groups.itertuples():  # every subgroup score of the table is in the report, with its CI
        assert f"{r.score:+.3f} [{r.ci_low:+.2f}, {r.ci_high:+.2f}]" in html
    import pandas as pd

    df = pd.read_csv(tmp_path / "by_domain.csv")
    shown = pd.read_csv(__import__("io").StringIO(blocks[5].strip()))
    pd.testing.assert_frame_equal(df[shown.columns], shown)
