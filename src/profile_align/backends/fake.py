"""A deterministic, scriptable backend for tests and benchmarks.

Replies come from (first match wins): a lookup ``table`` keyed by the last user message, a ``rule``
function ``rule(request) -> reply``, or a named built-in script (``fake:<script>``). A reply may be a str,
a dict/list (sent as JSON), a :class:`FakeReply`, or an exception (instance or class) to raise.
``prompt_logprobs`` (a mapping reply text -> per-token logprobs, or a function ``(messages, reply) ->
logprobs``) scripts :meth:`FakeBackend.continuation_logprobs` (see :mod:`.scoring`); a reply it does not
know raises. ``fail_first=n`` makes the first n calls of every distinct prompt raise ``fail_with`` (default: HTTP 429).
Counters: ``calls``, ``calls_by_prompt``, ``in_flight``, ``max_in_flight``; ``call_log`` appends one JSON
line per call to a file (for cross-process resume tests).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import Capabilities, RateLimitError, Request, Response, TransientError, Usage

__all__ = ["FakeBackend", "FakeReply", "SCRIPTS", "example_from_schema", "last_user"]


@dataclass
class FakeReply:
    text: str | None = None
    obj: Any = None
    top_logprobs: list[dict[str, float]] | None = None
    finish_reason: str = "stop"
    latency_s: float | None = None


Rule = Callable[[Request], Any]
SCRIPTS: dict[str, Callable[[Request, FakeBackend], Any]] = {}


def script(name: str) -> Callable[[Callable[[Request, FakeBackend], Any]], Callable[[Request, FakeBackend], Any]]:
    def deco(fn: Callable[[Request, FakeBackend], Any]) -> Callable[[Request, FakeBackend], Any]:
        SCRIPTS[name] = fn
        return fn

    return deco


def last_user(request: Request) -> str:
    for m in reversed(request.messages):
        if m.get("role") == "user":
            return m.get("content", "")
    return request.messages[-1].get("content", "") if request.messages else ""


def example_from_schema(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> Any:
    """A small value that satisfies ``schema`` (local ``$ref``s, enum/const, min lengths/items/bounds)."""
    defs = defs if defs is not None else {**schema.get("$defs", {}), **schema.get("definitions", {})}
    if "$ref" in schema:
        return example_from_schema(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return example_from_schema(schema[key][0], defs)
    t = schema.get("type", "object")
    t = t[0] if isinstance(t, list) else t
    if t == "object":
        props = schema.get("properties", {})
        return {k: example_from_schema(v, defs) for k, v in props.items()}
    if t == "array":
        return [example_from_schema(schema.get("items", {"type": "string"}), defs)
                for _ in range(schema.get("minItems", 1))]
    if t == "string":
        return "x" * max(1, schema.get("minLength", 1))
    if t == "integer":
        return int(schema.get("minimum", 0))
    if t == "number":
        return float(schema.get("minimum", 0.0))
    if t == "boolean":
        return True
    return None


# --------------------------------------------------------------------------- built-in scripts
@script("echo")
def _echo(request: Request, backend: FakeBackend) -> Any:
    return last_user(request)


@script("json")
def _json(request: Request, backend: FakeBackend) -> Any:
    if request.json_schema:
        return example_from_schema(request.json_schema)
    return {"answer": last_user(request)}


@script("fenced-json")
def _fenced(request: Request, backend: FakeBackend) -> Any:
    obj = _json(request, backend)
    return f"Sure! Here is the JSON you asked for:\n```json\n{json.dumps(obj, indent=2)}\n```\nLet me know if it helps."


@script("malformed")
def _malformed(request: Request, backend: FakeBackend) -> Any:
    return 'I think the answer is {"answer": "yes", "reason": '


def _yes_no(p_yes: float) -> FakeReply:
    text = "Yes" if p_yes >= 0.5 else "No"
    top = {"Yes": math.log(p_yes * 0.9), " yes": math.log(p_yes * 0.1),
           "No": math.log((1 - p_yes) * 0.9), " no": math.log((1 - p_yes) * 0.1)}
    return FakeReply(text=text, top_logprobs=[top])


@script("yes")
def _yes(request: Request, backend: FakeBackend) -> Any:
    return _yes_no(0.8)


@script("no")
def _no(request: Request, backend: FakeBackend) -> Any:
    return _yes_no(0.2)


@script("ratelimit")
def _ratelimit(request: Request, backend: FakeBackend) -> Any:
    return RateLimitError("fake 429: slow down", retry_after=None)


@script("error")
def _error(request: Request, backend: FakeBackend) -> Any:
    return TransientError("fake 503: service unavailable")


@script("flaky")
def _flaky(request: Request, backend: FakeBackend) -> Any:
    if backend.calls_by_prompt[last_user(request)] == 1:
        return RateLimitError("fake 429 on first attempt")
    return _json(request, backend) if request.json_schema else last_user(request)


# --------------------------------------------------------------------------- backend
class FakeBackend:
    name = "fake"

    def __init__(
        self,
        script: str = "echo",
        *,
        rule: Rule | None = None,
        table: Mapping[str, Any] | None = None,
        latency_s: float = 0.0,
        fail_first: int = 0,
        fail_with: BaseException | type[BaseException] | None = None,
        model_id: str | None = None,
        call_log: str | Path | None = None,
        json_schema: bool = True,
        logprobs: bool = True,
        max_concurrency: int | None = None,
        prompt_logprobs: Mapping[str, Any] | Callable[[list[dict[str, str]], str], Any] | None = None,
    ):
        if script not in SCRIPTS:
            raise ValueError(f"unknown fake script {script!r}; known: {', '.join(sorted(SCRIPTS))}")
        self.script = script
        self.rule = rule
        self.table = dict(table or {})
        self.latency_s = latency_s
        self.fail_first = fail_first
        self.fail_with = fail_with if fail_with is not None else RateLimitError("fake 429 (fail_first)")
        self.model_id = model_id or f"fake-{script}"
        self.capabilities = Capabilities(json_schema=json_schema, logprobs=logprobs, max_concurrency=max_concurrency,
                                         prompt_logprobs=prompt_logprobs is not None)
        self.prompt_logprobs = prompt_logprobs
        self.call_log = Path(call_log) if call_log else None
        self.calls = 0
        self.calls_by_prompt: Counter[str] = Counter()
        self.in_flight = 0
        self.max_in_flight = 0

    @property
    def cache_id(self) -> str:
        return self.model_id

    def _reply_for(self, request: Request) -> Any:
        prompt = last_user(request)
        if self.fail_first and self.calls_by_prompt[prompt] <= self.fail_first:
            return self.fail_with
        if prompt in self.table:
            return self.table[prompt]
        if self.rule is not None:
            return self.rule(request)
        return SCRIPTS[self.script](request, self)

    async def complete(self, request: Request) -> Response:
        prompt = last_user(request)
        self.calls += 1
        self.calls_by_prompt[prompt] += 1
        if self.call_log is not None:
            with self.call_log.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps({"prompt": prompt, "t": time.time()}) + "\n")
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        t0 = time.perf_counter()
        try:
            reply = self._reply_for(request)
            if isinstance(reply, FakeReply) and reply.latency_s is not None:
                await asyncio.sleep(reply.latency_s)
            elif self.latency_s:
                await asyncio.sleep(self.latency_s)
            if isinstance(reply, BaseException) or (isinstance(reply, type) and issubclass(reply, BaseException)):
                raise reply
            if not isinstance(reply, FakeReply):
                reply = FakeReply(text=reply) if isinstance(reply, str) else FakeReply(obj=reply)
            text = reply.text if reply.text is not None else json.dumps(reply.obj)
            top = reply.top_logprobs
            if request.logprobs and top is None:
                top = [{tok: 0.0} for tok in text.split()[:request.max_tokens]]
            n_prompt = sum(len(m.get("content", "").split()) for m in request.messages)
            return Response(
                text=text,
                usage=Usage(prompt_tokens=n_prompt, completion_tokens=len(text.split())),
                finish_reason=reply.finish_reason,
                latency_s=time.perf_counter() - t0,
                backend=self.name,
                model=self.model_id,
                top_logprobs=top if request.logprobs else None,
            )
        finally:
            self.in_flight -= 1

    async def continuation_logprobs(self, messages: list[dict[str, str]], continuation: str) -> Any:
        """Scripted per-token log-probabilities of ``continuation`` (one call, counted in ``calls``)."""
        from .base import BackendError
        from .scoring import ContinuationLogprob, LogprobsNotSupported

        if self.prompt_logprobs is None:
            raise LogprobsNotSupported("this fake backend has no scripted prompt_logprobs")
        self.calls += 1
        self.calls_by_prompt[continuation] += 1
        script = self.prompt_logprobs
        values = script(messages, continuation) if callable(script) else script.get(continuation)
        if values is None:
            raise BackendError(f"fake: no scripted log-probabilities for reply {continuation[:60]!r}")
        if isinstance(values, BaseException):
            raise values
        values = [float(v) for v in values]
        n_prompt = sum(len(m.get("content", "").split()) for m in messages)
        return ContinuationLogprob(token_logprobs=values, tokens=[], n_prompt_tokens=n_prompt, method="fake")

    async def aclose(self) -> None:
        return None
