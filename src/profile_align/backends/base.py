"""The backend protocol: one request/response shape for every LLM provider.

Defaults follow the paper (Oh et al. 2024): temperature 0.6, top_p 0.9, max_tokens 1024.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "BackendError",
    "BackendUnavailable",
    "RateLimitError",
    "TransientError",
    "RequestFailed",
    "Capabilities",
    "Usage",
    "Request",
    "Response",
    "Backend",
    "is_scoring_request",
]


# --------------------------------------------------------------------------- errors
class BackendError(Exception):
    """A backend call failed in a way that retrying will not fix (bad request, auth, missing model)."""

    retryable = False


class BackendUnavailable(BackendError):
    """The backend cannot be built on this machine: missing weights, package, API key or server URL.
    The message says what is missing and how to fix it (the CLI exits with the missing-dependency code)."""


class TransientError(BackendError):
    """A failure worth retrying: 5xx, timeout, dropped connection."""

    retryable = True


class RateLimitError(TransientError):
    """HTTP 429 or equivalent; ``retry_after`` (seconds) when the server said so."""

    def __init__(self, message: str = "rate limited", retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class RequestFailed(BackendError):
    """A request whose retries ran out (or that failed permanently).

    Returned *in place of* a :class:`Response` by ``Client.map`` and raised by ``Client.complete``;
    a failure is never represented by an empty string.
    """

    def __init__(
        self,
        message: str,
        *,
        request: Request | None = None,
        key: str | None = None,
        attempts: int = 0,
        error_type: str = "",
    ):
        super().__init__(message)
        self.message = message
        self.request = request
        self.key = key
        self.attempts = attempts
        self.error_type = error_type
        self.call_id = ""
        """Id of this failure's call record (set by the Client)."""

    def __repr__(self) -> str:  # pragma: no cover - cosmetic
        return f"RequestFailed({self.error_type}: {self.message!r}, attempts={self.attempts})"


# --------------------------------------------------------------------------- data
class Capabilities(BaseModel):
    model_config = ConfigDict(frozen=True)

    json_schema: bool = False
    """Can constrain/request output matching a JSON schema (else: prompt + lenient parse)."""
    logprobs: bool = False
    """Can return top logprobs for generated tokens."""
    prompt_logprobs: bool = False
    """Can return the log-probability of a *given* reply (prompt-token logprobs): the backend has an
    ``async continuation_logprobs(messages, continuation)`` method (see :mod:`.scoring`)."""
    max_concurrency: int | None = None
    """Upper bound on useful parallel requests (1 for an in-process model)."""


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Request(BaseModel):
    """One chat completion request.

    ``prompt_type`` and ``stage`` are labels of the call record only (*not* part of the cache key);
    ``prompt_version`` is part of the cache key: bump it when a prompt template changes.
    """

    model_config = ConfigDict(frozen=False)

    messages: list[dict[str, str]]
    temperature: float = 0.6
    top_p: float = 0.9
    max_tokens: int = 1024
    seed: int | None = None
    stop: list[str] | None = None
    json_schema: dict[str, Any] | None = None
    logprobs: bool = False
    top_logprobs: int | None = None
    prompt_type: str = "default"
    prompt_version: str = "1"
    stage: str = ""
    """Which part of profile-align asked (factors, evaluation, generation, reward_model, probe, ...)."""

    @classmethod
    def from_prompt(cls, prompt: str, *, system: str | None = None, **kwargs: Any) -> Request:
        messages = [{"role": "system", "content": system}] if system else []
        messages.append({"role": "user", "content": prompt})
        return cls(messages=messages, **kwargs)

    def output_fields(self) -> dict[str, Any]:
        """Everything in the request that can change the model's output (used for the cache key)."""
        return {
            "messages": [{"role": m.get("role", ""), "content": m.get("content", "")} for m in self.messages],
            "temperature": float(self.temperature),
            "top_p": float(self.top_p),
            "max_tokens": int(self.max_tokens),
            "seed": self.seed,
            "stop": list(self.stop) if self.stop else None,
            "json_schema": self.json_schema,
            "logprobs": bool(self.logprobs),
            "top_logprobs": self.top_logprobs if self.logprobs or self.top_logprobs else None,
            "prompt_version": self.prompt_version,
        }


class Response(BaseModel):
    text: str
    parsed: Any = None
    usage: Usage = Field(default_factory=Usage)
    finish_reason: str | None = None
    latency_s: float = 0.0
    backend: str = ""
    model: str = ""
    cached: bool = False
    top_logprobs: list[dict[str, float]] | None = None
    """Per generated token: {token: logprob} of the most likely alternatives (None if not requested/available)."""
    prompt_type: str = "default"

    call_id: str = Field(default="", exclude=True, repr=False)
    """Id of this answer's call record (set by the Client; not stored with the cached answer)."""


# --------------------------------------------------------------------------- protocol
@runtime_checkable
class Backend(Protocol):
    """What every backend implements. ``cache_id`` identifies the model exactly (weights, server)."""

    name: str
    model_id: str
    capabilities: Capabilities

    @property
    def cache_id(self) -> str: ...

    async def complete(self, request: Request) -> Response: ...

    async def aclose(self) -> None: ...


def is_scoring_request(request: Any) -> bool:
    """A request answered by reading the first token's probabilities (logprobs, at most 2 tokens): its
    reply is cut off by ``max_tokens`` on purpose, so that is not a truncation. Accepts a Request or its
    stored JSON dict."""
    get = request.get if isinstance(request, dict) else (lambda k, d=None: getattr(request, k, d))
    return bool(get("logprobs", False)) and int(get("max_tokens", 1024) or 1024) <= 2
