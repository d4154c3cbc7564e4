from __future__ import annotations

import pytest

from profile_align.backends import BackendError, get_backend, register, split_model_string
from profile_align.backends.fake import FakeBackend
from profile_align.backends.registry import parse_compat_target, registered_prefixes


@pytest.mark.parametrize(
    "rest, url, model",
    [
        ("http://host:8000/v1::model-name", "http://host:8000/v1", "model-name"),
        ("http://localhost:8000/v1::Qwen/Qwen2.5-7B-Instruct", "http://localhost:8000/v1", "Qwen/Qwen2.5-7B-Instruct"),
        ("https://h.example/api/v1/::org/model:tag::x", "https://h.example/api/v1", "org/model:tag::x"),
        ("http://[::1]:8080/v1::llama3.2:1b", "http://[::1]:8080/v1", "llama3.2:1b"),
        ("meta-llama/Llama-3-8b:free", None, "meta-llama/Llama-3-8b:free"),
    ],
)
def test_parse_compat_target_exact(rest, url, model):
    assert parse_compat_target(rest) == (url, model)


@pytest.mark.parametrize("rest", ["http://host:8000/v1", "http://host:8000/v1::", ""])
def test_parse_compat_target_errors(rest):
    with pytest.raises(BackendError):
        parse_compat_target(rest)


def test_split_and_unknown_prefix():
    assert split_model_string("local") == ("local", "")
    assert split_model_string("llamacpp:/a/b:c.gguf") == ("llamacpp", "/a/b:c.gguf")
    with pytest.raises(BackendError, match="unknown backend prefix"):
        split_model_string("nope:x")


def test_get_backend_fake_and_options():
    b = get_backend("fake:json", latency_s=0.5, model_id="m")
    assert isinstance(b, FakeBackend) and b.latency_s == 0.5 and b.model_id == "m"
    assert get_backend("fake").script == "echo"


def test_openai_compat_model_string(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    b = get_backend("openai-compat:http://127.0.0.1:9/v1::org/model:q4")
    assert b.name == "openai-compat" and b.model_id == "org/model:q4" and b.base_url == "http://127.0.0.1:9/v1"
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(BackendError, match="OPENAI_BASE_URL"):
        get_backend("openai-compat:some-model")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://x:1/v1/")
    assert get_backend("openai-compat:some/model").base_url == "http://x:1/v1"


def test_openai_requires_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(BackendError, match="OPENAI_API_KEY"):
        get_backend("openai:gpt-4o-mini")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    b = get_backend("openai:gpt-4o-mini")
    assert b.base_url == "https://api.openai.com/v1" and b.name == "openai"


def test_register_decorator():
    @register("unit-test-prefix", "test only")
    def _factory(rest, **options):
        return FakeBackend("echo", model_id=f"unit-{rest}")

    assert get_backend("unit-test-prefix:abc").model_id == "unit-abc"
    assert "unit-test-prefix" in registered_prefixes()


def test_llamacpp_missing_file():
    with pytest.raises(BackendError, match="not found"):
        get_backend("llamacpp:/nonexistent/model.gguf")
