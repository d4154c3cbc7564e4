"""doctor: environment checks (no network: servers are httpx mock transports)."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest
from typer.testing import CliRunner

from profile_align.cli import app
from profile_align.diagnostics import run_doctor
from profile_align.diagnostics.doctor import probe_server, sha256_of_parts


def test_cache_writable_and_not(tmp_path):
    [c] = run_doctor(only=["cache"], cache_dir=tmp_path / "c")
    assert c.status == "ok" and "writable" in c.detail
    assert list((tmp_path / "c").iterdir()) == []  # the probe file is removed
    blocker = tmp_path / "file"
    blocker.write_text("x")
    [c] = run_doctor(only=["cache"], cache_dir=blocker / "sub")
    assert c.status == "fail" and "PROFILE_ALIGN_CACHE" in c.detail


def _server(status=200, models=("org/model:1",)):
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path.endswith("/models")
        return httpx.Response(status, json={"data": [{"id": m} for m in models]})

    return httpx.MockTransport(handler)


def test_probe_server_states():
    assert probe_server("http://h/v1", "org/model:1", transport=_server()).status == "ok"
    assert probe_server("http://h/v1", "other", transport=_server()).status == "warn"
    assert probe_server("http://h/v1", "m", transport=_server(401)).status == "fail"

    def down(request):
        raise httpx.ConnectError("refused")

    c = probe_server("http://h/v1", "m", transport=httpx.MockTransport(down))
    assert c.status == "fail" and "not reachable" in c.detail


def test_backends_check_for_model_strings():
    checks = run_doctor(["openai-compat:http://h:1/v1::org/model:1", "nope:x", "fake:json"], only=["backends"],
                        transport=_server())
    assert [c.status for c in checks] == ["ok", "fail", "ok"]
    assert "org/model:1" in checks[0].detail and "unknown backend prefix" in checks[1].detail


def test_local_model_override(tmp_path, monkeypatch):
    f = tmp_path / "m.gguf"
    f.write_bytes(b"gguf")
    monkeypatch.setenv("PROFILE_ALIGN_LOCAL_MODEL", str(f))
    assert run_doctor(only=["local_model"])[0].status == "ok"
    monkeypatch.setenv("PROFILE_ALIGN_LOCAL_MODEL", str(tmp_path / "missing.gguf"))
    assert run_doctor(only=["local_model"])[0].status == "fail"


def test_sha256_of_parts(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"hello ")
    b.write_bytes(b"world")
    assert sha256_of_parts([a, b]) == (hashlib.sha256(b"hello world").hexdigest(), 11)


def test_doctor_cli_quick_json(tmp_path, monkeypatch):
    monkeypatch.setenv("PROFILE_ALIGN_CACHE", str(tmp_path))
    res = CliRunner().invoke(app, ["doctor", "--quick", "--json"])
    checks = json.loads(res.output)
    names = {c["name"] for c in checks}
    assert {"versions", "cache", "local model"} <= names
    assert res.exit_code == (1 if any(c["status"] == "fail" for c in checks) else 0)
    with pytest.raises(ValueError, match="unknown doctor check"):
        run_doctor(only=["nope"])
