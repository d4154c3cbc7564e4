"""One run-directory reader: the typed manifest and the cache path rule."""

from pathlib import Path

from profile_align.rundir import CACHE_FILE, RunDir


def test_cache_path_rule(tmp_path):
    rd = RunDir(tmp_path / "r", create=True)
    assert rd.cache_path == rd.path / CACHE_FILE  # nothing recorded: the default file
    rd.write_manifest({"config": {"backend": {"cache": "elsewhere.sqlite"}}})
    assert rd.cache_path == Path("elsewhere.sqlite")  # an older manifest: the config's file as given
    (rd.path / "elsewhere.sqlite").write_bytes(b"")
    assert rd.cache_path == rd.path / "elsewhere.sqlite"  # ... or relative to the run when it lies there
    rd.write_manifest({"cache_path": "cache.sqlite", "config": {"backend": {"cache": "x"}}})
    assert rd.cache_path == rd.path / "cache.sqlite"  # recorded, relative to the run directory
    rd.write_manifest({"cache_path": str(tmp_path / "shared.sqlite")})
    assert rd.cache_path == tmp_path / "shared.sqlite"


def test_typed_manifest_reads_old_spellings_and_records(tmp_path):
    rd = RunDir(tmp_path, create=True)
    (tmp_path / "experiments" / "guide").mkdir(parents=True)
    rd.write_manifest({
        "config": {"dataset": {"source": "summeval"}, "judges": [{"model": "local", "name": "loc"}],
                   "backend": {"temperature": 0.2}},
        "judges": [{"name": "human", "kind": "human"}, {"name": "rm:x", "kind": "rm", "model": "m"},
                   {"name": "loc:evaluation", "kind": "evaluation", "model": "local", "flip_rate": 0.25},
                   "not a judge"]})
    m = rd.manifest()
    assert [j.kind for j in m.judges] == ["human", "reward_model", "evaluation"]
    assert m.judges[2].stat("flip_rate") == 0.25 and m.model_of("loc:evaluation") == "local"
    assert m.factor_model == "local"  # not recorded: the config's rule (first judge's model)
    assert m.sampling == {"temperature": 0.2, "top_p": 0.9, "seed": 0}  # the config's defaults, not copies
    assert m.experiments == ["guide"]
    rd.update_manifest(factors={"model": None})
    assert rd.manifest().factor_model is None  # recorded beats the rule


def test_report_reads_rm_kind_and_the_written_validation_table(tmp_path):
    import pandas as pd

    from profile_align.report.build import load_run

    rd = RunDir(tmp_path, create=True)
    rd.write_manifest({"judges": [{"name": "rm:x", "kind": "rm"}, {"name": "human", "kind": "human"}]})
    rd.write_table("tables/factor_validation", pd.DataFrame({"factor": ["coherence"], "kendall_tau": [0.2]}))
    run = load_run(tmp_path)
    assert [(j.name, j.kind) for j in run.judges] == [("human", "human"), ("rm:x", "reward_model")]
    assert run.validation is not None and run.validation_name == "tables/factor_validation"


def test_runinfo_reads_the_typed_manifest(tmp_path):
    from profile_align.experiments.runinfo import factor_model, find_judge, judge_config, model_of, sampling
    from profile_align.pipeline.config import load_config

    cfg = load_config({"dataset": {"source": "summeval"}, "judges": [
        {"model": "fake:json", "name": "g", "settings": ["generation"], "generation": {"max_words": 40}}],
        "backend": {"top_p": 0.5}})
    rd = RunDir(tmp_path, create=True)
    rd.write_manifest({"config": cfg.model_dump(mode="json"), "factors": {"model": "fake:json"},
                       "judges": [{"name": "g:generation", "kind": "generation", "label": "g", "model": "fake:json"}]})
    assert find_judge(rd, "generation", "g")["name"] == "g:generation"
    assert model_of(rd, "g:generation") == "fake:json" and factor_model(rd) == "fake:json"
    assert judge_config(rd, "g:generation").generation.max_words == 40
    assert sampling(rd) == {"temperature": 0.6, "top_p": 0.5, "seed": 0}
