"""Joint effects on Dataset + FactorTable (explain.py), the `explain` command and its run-directory tables."""

from __future__ import annotations

import json

import numpy as np
import pytest
import statsmodels.api as sm
from typer.testing import CliRunner

import profile_align as pa
from profile_align.cli import app
from profile_align.explain import TABLES, explain, joint_effects
from profile_align.rundir import RunDir
from profile_align.explain import write_analysis

runner = CliRunner()


@pytest.fixture(scope="module")
def data():
    """4 SummEval documents, rule factors, and a model judge that ties and leans on length."""
    ds = pa.load_dataset("summeval").sample(4, seed=0)
    table = pa.compute_factors(ds)
    rng = np.random.default_rng(0)
    pm = ds.pair_map()
    prefs = []
    for p in ds.preferences_of("human"):
        pr = pm[p.pair_id]
        dl = table.values.loc[pr.a, "length"] - table.values.loc[pr.b, "length"]
        e = 0.08 * dl + 0.8 * int(p.verdict) + rng.logistic()
        prefs.append(pa.Preference(p.pair_id, "model:evaluation", 1 if e > 0.6 else (-1 if e < -0.6 else 0)))
    return ds.with_preferences(prefs), table


def test_joint_effects_equals_a_direct_logit_on_the_dataset(data):
    ds, table = data
    fit = joint_effects(ds, table, judge="human", tau_boot=100)
    pm = ds.pair_map()
    prefs = ds.preferences_of("human")
    names = ["length", "novel_words"]
    da = table.lookup([pm[p.pair_id].a for p in prefs], names) - table.lookup([pm[p.pair_id].b for p in prefs], names)
    dall = table.lookup([p.a for p in ds.pairs], names) - table.lookup([p.b for p in ds.pairs], names)
    X = da / np.std(dall, axis=0, ddof=1)  # unit: SD over all pairs of the dataset
    y = np.array([int(p.verdict) > 0 for p in prefs], dtype=float)
    groups = np.unique([pm[p.pair_id].example_id for p in prefs], return_inverse=True)[1]
    direct = sm.Logit(y, sm.add_constant(X)).fit(disp=0, cov_type="cluster", cov_kwds={"groups": groups})
    np.testing.assert_allclose(fit.coef, direct.params[1:], atol=1e-6)
    np.testing.assert_allclose(fit.ci_low, direct.conf_int()[1:, 0], atol=1e-6)
    tau = pa.factor_scores(ds, table, judge="human", n_boot=100)
    np.testing.assert_allclose(fit.tau_14, tau.scores)
    df = fit.to_frame()
    assert list(df["factor"]) == names and {"coef", "ci_low", "p_holm", "delta_prob", "lc_coef", "vif"} <= set(df)


def test_explain_fits_every_judge_and_compares_with_the_human(data):
    ds, table = data
    res = explain(ds, table, n_boot=40, tau_boot=50, cv_folds=2)
    assert set(res.fits) == {"human", "model:evaluation"} and res.problems == []
    assert res["model:evaluation"].model == "ordinal" and res["human"].model == "logit"
    # both judges share the unit of the factor differences, so their coefficients compare
    np.testing.assert_allclose(res["human"].sd, res["model:evaluation"].sd)
    c = res.comparisons["model:evaluation"].to_frame().set_index("factor")
    np.testing.assert_allclose(c["diff"], c["coef_b"] - c["coef_a"])
    assert c.loc["length", "ci_low"] > 0  # the model leans on length, the human does not
    lc = res.lc_agreement["model:evaluation"]
    assert 0 <= lc.lc_agreement <= 1 and lc.length_coef > 0
    assert len(res.predictive) == 6
    assert set(res.tables()) == set(TABLES)


def test_missing_factor_values_are_reported(data):
    ds, table = data
    t2 = pa.FactorTable(table.values.copy(), dict(table.provenance))
    t2.values.iloc[:5, t2.values.columns.get_loc("novel_words")] = np.nan
    fit = joint_effects(ds, t2, judge="human", tau_boot=0)
    n = fit.dropped["missing value of novel_words"]
    assert n > 0 and fit.n_pairs == fit.n_input - n
    assert f"dropped {n}: missing value of novel_words" in str(fit)


def test_unknown_judge_is_listed_not_dropped_silently(data):
    ds, table = data
    res = explain(ds, table, judges=["human", "nobody"], tau_boot=0, cv_folds=0)
    assert list(res.fits) == ["human"] and res.problems and "nobody" in res.problems[0]


def test_cli_explain_on_a_run_directory_writes_the_tables(data, tmp_path):
    ds, table = data
    rd = RunDir(tmp_path / "run", create=True)
    rd.write_dataset(ds)
    rd.write_factors(table)
    res = runner.invoke(app, ["explain", str(rd.path), "--n-boot", "30", "--cv-folds", "2"])
    assert res.exit_code == 0, res.output
    assert "joint effects of 'human'" in res.output and "ordinal" in res.output
    assert "length-controlled agreement of model:evaluation" in res.output
    eff = rd.read_table("tables/joint_effects")
    assert set(eff["judge"]) == {"human", "model:evaluation"}
    summary = json.loads((rd / "tables/joint_effects.json").read_text())
    assert summary["fits"]["human"]["model"] == "logit" and summary["reference"] == "human"
    for name in TABLES:
        assert rd.has_table(f"tables/{name}"), name


def test_cli_explain_on_a_data_set_and_its_errors(tmp_path):
    res = runner.invoke(app, ["explain", "summeval", "--out-dir", str(tmp_path), "--cv-folds", "0"])
    assert res.exit_code == 0, res.output
    n = len(pa.load_dataset("summeval").preferences_of("human"))
    assert f"{n} of {n}" in res.output and (tmp_path / "tables/joint_effects.csv").exists()
    bad = runner.invoke(app, ["explain", "summeval", "--ties", "sometimes"])
    assert bad.exit_code == 2 and "ties must be auto, drop or ordinal" in bad.output  # one message (cli_errors)


def test_write_analysis_skips_empty_tables(data, tmp_path):
    ds, table = data
    res = explain(ds, table, judges=["human"], tau_boot=0, cv_folds=0)
    written = write_analysis(tmp_path, res)
    assert "tables/joint_differences.parquet|.csv" not in written
    assert not (tmp_path / "tables/joint_differences.csv").exists()
    assert (tmp_path / "tables/joint_effects.csv").exists()
