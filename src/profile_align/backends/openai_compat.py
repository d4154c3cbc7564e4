"""OpenAI-compatible chat completions over ``httpx`` (OpenAI, vLLM, Ollama, llama.cpp server, OpenRouter,
Together...).

Structured output: ``response_format = {"type": "json_schema", ...}``; if the server rejects it (HTTP 400/422
naming ``response_format``/``json_schema``) the backend remembers that and falls back to ``json_object``, then
to plain prompting with the schema in the system message (the client parses leniently either way).

Prompt logprobs (``continuation_logprobs``, see :mod:`.scoring`), ``prompt_logprobs=``:
``chat`` sends the reply as a final assistant message with vLLM's ``prompt_logprobs=0`` and
``continue_final_message`` (the server's own chat template); ``completions`` posts the messages as plain text
(``system\n\nuser\n\n`` then the reply: no chat template) with ``echo`` + ``logprobs`` to ``/completions``;
``auto`` tries chat, then completions; ``off`` reports the capability as missing.
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
        prompt_logprobs: str = "auto",
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
        if prompt_logprobs not in ("auto", "chat", "completions", "off"):
            raise ValueError("prompt_logprobs must be auto, chat, completions or off")
        self.prompt_logprobs_mode = prompt_logprobs
        self.capabilities = Capabilities(json_schema=True, logprobs=True, max_concurrency=max_concurrency,
                                         prompt_logprobs=prompt_logprobs != "off")
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

    async def _post_json(self, path: str, body: dict[str, Any]) -> tuple[httpx.Response, Any]:
        try:
            resp = await self._client().post(path, json=body)
        except httpx.TimeoutException as exc:
            raise TransientError(f"{self.name}: timeout: {exc}") from exc
        except httpx.TransportError as exc:
            raise TransientError(f"{self.name}: connection error: {type(exc).__name__}: {exc}") from exc
        if resp.status_code == 429 or resp.status_code >= 500:
            self._raise_for_status(resp)
        try:
            data = resp.json() if resp.status_code < 400 else None
        except ValueError:
            data = None
        return resp, data

    async def _reply_logprobs_chat(self, messages: list[dict[str, str]], continuation: str) -> Any:
        from .scoring import ContinuationLogprob, LogprobsNotSupported, reply_from_prompt_logprobs

        body = {"model": self.model_id, "messages": [*messages, {"role": "assistant", "content": continuation}],
                "max_tokens": 1, "temperature": 0.0, "prompt_logprobs": 0, "add_generation_prompt": False,
                "continue_final_message": True, **self.extra_body}
        resp, data = await self._post_json("/chat/completions", body)
        entries = None
        if isinstance(data, dict):
            choice = (data.get("choices") or [{}])[0]
            entries = data.get("prompt_logprobs") or (choice.get("prompt_logprobs") if isinstance(choice, dict) else None)
        if not entries:
            raise LogprobsNotSupported(f"{self.name}: the chat endpoint returned no prompt_logprobs "
                                       f"(HTTP {resp.status_code}: {resp.text[:200]})")
        toks, vals, n_before = reply_from_prompt_logprobs(entries, continuation)
        return ContinuationLogprob(token_logprobs=vals, tokens=toks, n_prompt_tokens=n_before,
                                   method="vllm-prompt-logprobs")

    async def _reply_logprobs_completions(self, messages: list[dict[str, str]], continuation: str) -> Any:
        from .scoring import ContinuationLogprob, LogprobsNotSupported, reply_from_echo

        prefix = "".join(f"{m.get('content', '')}\n\n" for m in messages)
        prompt = prefix + continuation
        body = {"model": self.model_id, "prompt": prompt, "max_tokens": 1, "temperature": 0.0, "echo": True,
                "logprobs": 0, **self.extra_body}
        resp, data = await self._post_json("/completions", body)
        lp = None
        if isinstance(data, dict):
            choice = (data.get("choices") or [{}])[0]
            lp = choice.get("logprobs") if isinstance(choice, dict) else None
        if not lp:
            raise LogprobsNotSupported(f"{self.name}: the completions endpoint returned no echoed logprobs "
                                       f"(HTTP {resp.status_code}: {resp.text[:200]})")
        toks, vals, n_before = reply_from_echo(lp, len(prefix), len(prompt))
        return ContinuationLogprob(token_logprobs=vals, tokens=toks, n_prompt_tokens=n_before, method="completions-echo")

    async def continuation_logprobs(self, messages: list[dict[str, str]], continuation: str) -> Any:
        """Log-probability of ``continuation`` as the model's reply to ``messages`` (prompt logprobs)."""
        from .scoring import LogprobsNotSupported

        mode = self.prompt_logprobs_mode
        if mode == "off":
            raise LogprobsNotSupported(f"{self.name}: prompt logprobs are switched off (prompt_logprobs='off')")
        ways = {"chat": self._reply_logprobs_chat, "completions": self._reply_logprobs_completions}
        tried = [mode] if mode in ways else list(ways)
        errors = []
        for way in tried:
            try:
                res = await ways[way](messages, continuation)
            except LogprobsNotSupported as exc:
                errors.append(str(exc))
                continue
            self.prompt_logprobs_mode = way  # remember what works
            return res
        raise LogprobsNotSupported(f"{self.name} ({self.model_id} at {self.base_url}) cannot return the "
                                   "log-probability of a given reply: " + "; ".join(errors))

    async def aclose(self) -> None:
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()
