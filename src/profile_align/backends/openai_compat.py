"""OpenAI-compatible chat completions over ``httpx`` (OpenAI, vLLM, Ollama, llama.cpp server, OpenRouter,
Together...).

Structured output: ``response_format = {"type": "json_schema", ...}``; if the server rejects it (HTTP 400/422
naming ``response_format``/``json_schema``) the backend remembers that and falls back to ``json_object``, then
to plain prompting with the schema in the system message (the client parses leniently either way).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import weakref
from typing import Any

import httpx

from .base import BackendError, Capabilities, RateLimitError, Request, Response, TransientError, Usage

__all__ = ["OpenAICompatBackend"]

_RETRYABLE_STATUS = {408, 409, 425, 500, 502, 503, 504, 520, 522, 524, 529}
_JSON_MODES = ("json_schema", "json_object", "prompt")


def _schema_instruction(schema: dict[str, Any]) -> str:
    return ("Answer with a single JSON value that matches this JSON schema, and nothing else "
            f"(no code fences, no explanation):\n{json.dumps(schema, ensure_ascii=False)}")


def _with_schema_prompt(messages: list[dict[str, str]], schema: dict[str, Any]) -> list[dict[str, str]]:
    out = [dict(m) for m in messages]
    instruction = _schema_instruction(schema)
    if out and out[0].get("role") == "system":
        out[0]["content"] = f"{out[0].get('content', '')}\n\n{instruction}".strip()
    else:
        out.insert(0, {"role": "system", "content": instruction})
    return out


def _retry_after(headers: httpx.Headers) -> float | None:
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _top_logprobs(choice: dict[str, Any]) -> list[dict[str, float]] | None:
    content = (choice.get("logprobs") or {}).get("content")
    if not content:
        return None
    out = []
    for item in content:
        alts = {alt["token"]: float(alt["logprob"]) for alt in item.get("top_logprobs") or []}
        alts.setdefault(item.get("token", ""), float(item.get("logprob", 0.0)))
        out.append(alts)
    return out


class OpenAICompatBackend:
    """Args:
        model: the server's model name, passed through verbatim (``/`` and ``:`` allowed).
        base_url: e.g. ``http://localhost:8000/v1``; default ``$OPENAI_BASE_URL``.
        api_key: default ``$OPENAI_API_KEY`` (optional for local servers unless ``require_key``).
        json_mode: ``json_schema`` (try strongest first, fall back automatically), ``json_object`` or ``prompt``.
        transport: an ``httpx.AsyncBaseTransport`` (tests use ``httpx.MockTransport``).
        extra_body: merged into every request body (e.g. ``{"repetition_penalty": 1.1}`` for vLLM).
    """

    def __init__(
        self,
        model: str,
        *,
        name: str = "openai-compat",
        base_url: str | None = None,
        api_key: str | None = None,
        require_key: bool = False,
        json_mode: str = "json_schema",
        timeout_s: float = 600.0,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: dict[str, str] | None = None,
        extra_body: dict[str, Any] | None = None,
        max_concurrency: int | None = None,
    ):
        base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        if not base_url:
            raise BackendError(
                f"no server URL for model {model!r}: use openai-compat:http://HOST:PORT/v1::{model} "
                "or set OPENAI_BASE_URL"
            )
        api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        if require_key and not api_key:
            raise BackendError(f"{name}: no API key; set OPENAI_API_KEY (or pass api_key=...)")
        if json_mode not in _JSON_MODES:
            raise ValueError(f"json_mode must be one of {_JSON_MODES}")
        self.name = name
        self.model_id = model
        self.base_url = base_url.rstrip("/")
        self.json_mode = json_mode
        self.extra_body = dict(extra_body or {})
        self.capabilities = Capabilities(json_schema=True, logprobs=True, max_concurrency=max_concurrency)
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        if api_key:
            hdrs["Authorization"] = f"Bearer {api_key}"
        self._client_kwargs: dict[str, Any] = dict(
            base_url=self.base_url, headers=hdrs, transport=transport,
            timeout=httpx.Timeout(timeout_s, connect=min(30.0, timeout_s)),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
        )
        # one AsyncClient per event loop: pooled connections cannot move between loops (run_all, tests)
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient]
        self._clients = weakref.WeakKeyDictionary()

    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = httpx.AsyncClient(**self._client_kwargs)
        return client

    @property
    def cache_id(self) -> str:
        # the same model name on two servers may be two different models
        return f"{self.model_id}@{self.base_url}"

    def _body(self, request: Request, mode: str) -> dict[str, Any]:
        messages = request.messages
        body: dict[str, Any] = {
            "model": self.model_id,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "max_tokens": request.max_tokens,
        }
        if request.seed is not None:
            body["seed"] = request.seed
        if request.stop:
            body["stop"] = request.stop
        if request.logprobs:
            body["logprobs"] = True
            if request.top_logprobs:
                body["top_logprobs"] = request.top_logprobs
        if request.json_schema is not None:
            if mode == "json_schema":
                body["response_format"] = {"type": "json_schema", "json_schema": {
                    "name": "answer", "schema": request.json_schema, "strict": False}}
            elif mode == "json_object":
                body["response_format"] = {"type": "json_object"}
                messages = _with_schema_prompt(messages, request.json_schema)
            else:
                messages = _with_schema_prompt(messages, request.json_schema)
        body["messages"] = messages
        body.update(self.extra_body)
        return body

    async def _post(self, body: dict[str, Any]) -> httpx.Response:
        try:
            return await self._client().post("/chat/completions", json=body)
        except httpx.TimeoutException as exc:
            raise TransientError(f"{self.name}: timeout: {exc}") from exc
        except httpx.TransportError as exc:  # connection refused/reset, protocol errors
            raise TransientError(f"{self.name}: connection error: {type(exc).__name__}: {exc}") from exc

    @staticmethod
    def _rejects_format(resp: httpx.Response) -> bool:
        if resp.status_code not in (400, 404, 415, 422, 501):
            return False
        text = resp.text.lower()
        return any(w in text for w in ("response_format", "json_schema", "json schema", "json_object", "grammar"))

    async def complete(self, request: Request) -> Response:
        t0 = time.perf_counter()
        mode = self.json_mode
        while True:
            resp = await self._post(self._body(request, mode))
            if request.json_schema is not None and mode != "prompt" and self._rejects_format(resp):
                mode = _JSON_MODES[_JSON_MODES.index(mode) + 1]
                self.json_mode = mode  # remember for the next requests
                continue
            break
        self._raise_for_status(resp)
        try:
            data = resp.json()
            choice = data["choices"][0]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise TransientError(f"{self.name}: malformed response body: {resp.text[:200]!r}") from exc
        message = choice.get("message") or {}
        text = message.get("content")
        if text is None:
            refusal = message.get("refusal")
            raise BackendError(f"{self.name}: no content in reply" + (f" (refusal: {refusal})" if refusal else ""))
        usage = data.get("usage") or {}
        return Response(
            text=text,
            usage=Usage(prompt_tokens=int(usage.get("prompt_tokens") or 0),
                        completion_tokens=int(usage.get("completion_tokens") or 0)),
            finish_reason=choice.get("finish_reason"),
            latency_s=time.perf_counter() - t0,
            backend=self.name,
            model=self.model_id,
            top_logprobs=_top_logprobs(choice) if request.logprobs else None,
        )

    def _raise_for_status(self, resp: httpx.Response) -> None:
        code = resp.status_code
        if code < 400:
            return
        detail = resp.text[:300]
        if code == 429:
            raise RateLimitError(f"{self.name}: HTTP 429: {detail}", retry_after=_retry_after(resp.headers))
        if code in _RETRYABLE_STATUS or code >= 500:
            raise TransientError(f"{self.name}: HTTP {code}: {detail}")
        raise BackendError(f"{self.name}: HTTP {code} from {self.base_url}: {detail}")

    async def aclose(self) -> None:
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()
