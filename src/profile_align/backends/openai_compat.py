"""OpenAI-compatible chat completions (OpenAI, vLLM, Ollama, llama.cpp's llama-server, ``llama_cpp.server``,
OpenRouter, Together...) over an HTTP transport (:mod:`.http`; aiohttp by default).

Structured output differs between servers ("dialects", :data:`DIALECTS`), tried strongest first:

- ``json_schema``: ``response_format: {"type": "json_schema", "json_schema": {"schema": ...}}`` (OpenAI,
  vLLM, llama.cpp's llama-server, Ollama);
- ``json_object_schema``: ``response_format: {"type": "json_object", "schema": ...}`` (``llama_cpp.server``
  0.3.x, which answers ``json_schema`` with HTTP 500);
- ``guided_json``: ``guided_json: schema`` in the body (older vLLM);
- ``json_object``: ``response_format: {"type": "json_object"}`` + the schema in the system message;
- ``prompt``: no constraint, the schema in the system message, parsed leniently.

The dialect is learnt once per backend instance: the first structured request is the probe (other
structured requests wait for it); an HTTP 4xx/5xx whose text names the format (``response_format``,
``json_schema``, ``guided_json``, ``grammar``...) moves to the next dialect at once, without retries,
and the dialect that answers is kept for every later request.

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
from collections.abc import Callable
from typing import Any

from .base import BackendError, BackendUnavailable, Capabilities, RateLimitError, Request, Response, TransientError, Usage
from .http import HttpReply, Transport, make_transport

__all__ = ["OpenAICompatBackend", "DIALECTS"]

_RETRYABLE_STATUS = {408, 409, 425, 500, 502, 503, 504, 520, 522, 524, 529}
_FORMAT_WORDS = ("response_format", "json_schema", "json schema", "json_object", "guided_json", "grammar")


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


# each dialect: (body, schema, messages) -> messages to send; it may add fields to body
def _json_schema(body: dict[str, Any], schema: dict[str, Any], messages: list[dict[str, str]]) -> list[dict[str, str]]:
    body["response_format"] = {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema,
                                                                      "strict": False}}
    return messages


def _json_object_schema(body: dict[str, Any], schema: dict[str, Any],
                        messages: list[dict[str, str]]) -> list[dict[str, str]]:
    body["response_format"] = {"type": "json_object", "schema": schema}
    return messages


def _guided_json(body: dict[str, Any], schema: dict[str, Any], messages: list[dict[str, str]]) -> list[dict[str, str]]:
    body["guided_json"] = schema
    return messages


def _json_object(body: dict[str, Any], schema: dict[str, Any], messages: list[dict[str, str]]) -> list[dict[str, str]]:
    body["response_format"] = {"type": "json_object"}
    return _with_schema_prompt(messages, schema)


def _prompt_only(body: dict[str, Any], schema: dict[str, Any], messages: list[dict[str, str]]) -> list[dict[str, str]]:
    return _with_schema_prompt(messages, schema)


DIALECTS: dict[str, Callable[[dict[str, Any], dict[str, Any], list[dict[str, str]]], list[dict[str, str]]]] = {
    "json_schema": _json_schema,
    "json_object_schema": _json_object_schema,
    "guided_json": _guided_json,
    "json_object": _json_object,
    "prompt": _prompt_only,
}
"""Structured-output dialects, strongest first (the order in which they are tried)."""
_LADDER = tuple(DIALECTS)
_JSON_MODES = ("auto", *_LADDER)


def _retry_after(headers: Any) -> float | None:
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
        json_mode: ``auto`` (learn the server's structured-output dialect, strongest first) or a dialect of
            :data:`DIALECTS` to start from (a rejection still moves on to the weaker ones).
        transport: ``"aiohttp"`` (default), ``"httpx"``, an ``httpx.AsyncBaseTransport`` (tests use
            ``httpx.MockTransport``) or any :class:`~profile_align.backends.http.Transport`.
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
        json_mode: str = "auto",
        timeout_s: float = 600.0,
        transport: str | Transport | Any = "aiohttp",
        headers: dict[str, str] | None = None,
        extra_body: dict[str, Any] | None = None,
        max_concurrency: int | None = None,
        prompt_logprobs: str = "auto",
        api_key_env: str = "OPENAI_API_KEY",
    ):
        base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        if not base_url:
            raise BackendUnavailable(
                f"no server URL for model {model!r}: use openai-compat:http://HOST:PORT/v1::{model} "
                "or set OPENAI_BASE_URL"
            )
        api_key = api_key if api_key is not None else os.environ.get(api_key_env)
        if require_key and not api_key:
            raise BackendUnavailable(f"{name}: no API key; set {api_key_env} (export {api_key_env}=...) or choose "
                                     "another --model (see `profile-align backends list`)")
        if json_mode not in _JSON_MODES:
            raise ValueError(f"json_mode must be one of {_JSON_MODES}")
        self.name = name
        self.model_id = model
        self.base_url = base_url.rstrip("/")
        self.dialect = _LADDER[0] if json_mode == "auto" else json_mode
        """The structured-output dialect in use (learnt from the server's first structured answer)."""
        self.dialect_confirmed = False
        self.extra_body = dict(extra_body or {})
        if prompt_logprobs not in ("auto", "chat", "completions", "off"):
            raise ValueError("prompt_logprobs must be auto, chat, completions or off")
        self.prompt_logprobs_mode = prompt_logprobs
        self.capabilities = Capabilities(json_schema=True, logprobs=True, max_concurrency=max_concurrency,
                                         prompt_logprobs=prompt_logprobs != "off")
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        if api_key:
            hdrs["Authorization"] = f"Bearer {api_key}"
        self.headers: dict[str, str] = hdrs  # what every request sends (doctor's server probe reuses the auth)
        self.transport: Transport = make_transport(transport, self.base_url, headers=hdrs, timeout_s=timeout_s,
                                                   connect_timeout_s=min(30.0, timeout_s))
        self._probe: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    @property
    def json_mode(self) -> str:  # the former name of ``dialect``
        return self.dialect

    @property
    def cache_id(self) -> str:
        # the same model name on two servers may be two different models
        return f"{self.model_id}@{self.base_url}"

    def _body(self, request: Request, dialect: str) -> dict[str, Any]:
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
            messages = DIALECTS[dialect](body, request.json_schema, messages)
        body["messages"] = messages
        body.update(self.extra_body)
        return body

    async def _post(self, body: dict[str, Any], path: str = "/chat/completions") -> HttpReply:
        try:
            return await self.transport.post(path, json.dumps(body, ensure_ascii=False).encode())
        except TransientError as exc:  # timeout / connection error, classified by the transport
            raise type(exc)(f"{self.name}: {exc}") from exc

    @staticmethod
    def _rejects_format(reply: HttpReply) -> bool:
        """A deterministic answer to the structured-output part of the request, not a passing failure."""
        if reply.status_code not in (400, 404, 415, 422, 500, 501):
            return False
        text = reply.text.lower()
        return any(w in text for w in _FORMAT_WORDS)

    def _probe_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        if self._probe is None or self._probe[0] is not loop:
            self._probe = (loop, asyncio.Lock())
        return self._probe[1]

    async def _post_structured(self, request: Request) -> HttpReply:
        """Send in the learnt dialect; while it is unconfirmed, one request at a time probes the server."""
        if not self.dialect_confirmed:
            async with self._probe_lock():
                if not self.dialect_confirmed:  # (else the probe answered while this request waited)
                    return await self._probe_dialect(request)
        return await self._post(self._body(request, self.dialect))

    async def _probe_dialect(self, request: Request) -> HttpReply:
        while True:
            dialect = self.dialect
            reply = await self._post(self._body(request, dialect))
            if dialect != _LADDER[-1] and self._rejects_format(reply):
                if self.dialect == dialect:  # (not already moved on by a request of another loop)
                    self.dialect = _LADDER[_LADDER.index(dialect) + 1]
                continue
            if reply.status_code < 400:
                self.dialect_confirmed = True
            return reply

    async def complete(self, request: Request) -> Response:
        t0 = time.perf_counter()
        if request.json_schema is not None:
            reply = await self._post_structured(request)
        else:
            reply = await self._post(self._body(request, self.dialect))
        self._raise_for_status(reply)
        try:
            data = reply.json()
            choice = data["choices"][0]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise TransientError(f"{self.name}: malformed response body: {reply.text[:200]!r}") from exc
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

    def _raise_for_status(self, reply: HttpReply) -> None:
        code = reply.status_code
        if code < 400:
            return
        detail = reply.text[:300]
        if code == 429:
            raise RateLimitError(f"{self.name}: HTTP 429: {detail}", retry_after=_retry_after(reply.headers))
        if code in _RETRYABLE_STATUS or code >= 500:
            raise TransientError(f"{self.name}: HTTP {code}: {detail}")
        raise BackendError(f"{self.name}: HTTP {code} from {self.base_url}: {detail}")

    async def _post_json(self, path: str, body: dict[str, Any]) -> tuple[HttpReply, Any]:
        """POST ``body`` to ``path``; 429/5xx raise as for completions, a 4xx comes back with no data."""
        resp = await self._post(body, path)
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
        await self.transport.aclose()
