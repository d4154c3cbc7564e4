"""The one client factory and its cache rule."""

from profile_align.backends import default_cache_path, make_client
from profile_align.backends.fake import FakeBackend
from profile_align.rundir import RunDir


def test_cache_rule(tmp_path):
    fb = FakeBackend("json")
    explicit = make_client(fb, cache=tmp_path / "a" / "x.sqlite", run_dir=tmp_path / "run")
    assert explicit.cache.path == tmp_path / "a" / "x.sqlite"
    in_run = make_client(fb, run_dir=tmp_path / "run")
    assert in_run.cache.path == tmp_path / "run" / "cache.sqlite"
    rd = RunDir(tmp_path / "run2", create=True)
    rd.write_manifest({"cache_path": str(tmp_path / "shared.sqlite")})  # a run that used a shared cache
    assert make_client(fb, run_dir=rd).cache.path == tmp_path / "shared.sqlite"
    assert make_client(fb, cache_mode="off").cache.path == default_cache_path()
    assert make_client(in_run) is in_run  # a ready client is used as it is
    for c in (explicit, in_run):
        c.close()


def test_options_reach_the_client(tmp_path):
    c = make_client(FakeBackend("json"), run_dir=tmp_path, concurrency=2, max_retries=1, progress=False)
    assert (c.concurrency, c.max_retries, c.progress) == (2, 1, False)
    c.close()
