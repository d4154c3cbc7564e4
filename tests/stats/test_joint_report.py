"""The report's joint-effects section: numbers from tables/joint_*, omitted with a hint without them."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="the report needs the `report` extra (matplotlib, jinja2)")
pytest.importorskip("jinja2", reason="the report needs the `report` extra (matplotlib, jinja2)")

import profile_align as pa  # noqa: E402
from profile_align.report import build_report, load_run  # noqa: E402
from profile_align.report.markdown import render_markdown  # noqa: E402
from profile_align.rundir import RunDir  # noqa: E402
from profile_align.explain import write_analysis  # noqa: E402


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    ds = pa.load_dataset("summeval").sample(3, seed=1)
    table = pa.compute_factors(ds)
    rng = np.random.default_rng(3)
    pm = ds.pair_map()
    prefs = []
    for p in ds.preferences_of("human"):
        pr = pm[p.pair_id]
        dl = table.values.loc[pr.a, "length"] - table.values.loc[pr.b, "length"]
        e = 0.05 * dl + 0.5 * int(p.verdict) + rng.logistic()
        prefs.append(pa.Preference(p.pair_id, "m:evaluation", 1 if e > 0 else -1))
    ds = ds.with_preferences(prefs)
    rd = RunDir(tmp_path_factory.mktemp("run"), create=True)
    rd.write_dataset(ds)
    rd.write_factors(table)
    return rd


def test_section_is_omitted_with_a_hint_without_tables(run_dir):
    rep = build_report(run_dir.path)
    assert "profile-align explain RUN_DIR" in rep.omitted["joint"]
    assert "joint_effects" not in rep.figures


def test_section_shows_the_tables_numbers(run_dir):
    res = pa.explain(load_run(run_dir.path).dataset, run_dir.read_factors(), n_boot=30, tau_boot=50, cv_folds=2)
    write_analysis(run_dir, res)
    rep = build_report(run_dir.path)
    assert "joint" not in rep.omitted
    assert {"joint_effects", "joint_correlation"} <= set(rep.figures)
    md = render_markdown(rep).replace("\\[", "[").replace("\\]", "]")  # the writer escapes brackets
    eff = run_dir.read_table("tables/joint_effects")
    for r in eff.itertuples():
        assert f"{r.coef:+.3f} [{r.ci_low:+.3f}, {r.ci_high:+.3f}]" in md
    diff = run_dir.read_table("tables/joint_differences")
    for r in diff.itertuples():
        assert f"{r.diff:+.3f} [{r.ci_low:+.3f}, {r.ci_high:+.3f}]" in md
    assert "Bradley-Terry in logistic form" in md and "Length-controlled agreement" in md
