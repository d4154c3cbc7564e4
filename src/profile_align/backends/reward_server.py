"""A reward-model server as a backend, so reward scoring goes through ``Client`` like every model call:
cached (a killed run does not pay again), retried (429/5xx/timeouts with the Client's backoff), and
recorded (one call record per scored text, stage ``reward_model``).

Model string ``rm-server:URL::MODEL``. A request's last user message is the text to score; the backend
POSTs ``{"model": MODEL, "input": [text]}`` to ``URL`` (vLLM ``/pooling`` or ``/classify``, or a custom
server) and answers with the score as text and as ``parsed`` (a float). Scores are read by
:func:`read_scores` (``data[i]`` a number or an object with ``score`` / ``reward`` / ``data`` / ``logits``
/ ``probs``, or a top-level ``scores`` / ``rewards`` list).
"""

from __future__ import annotations

import asyncio
import time
import weakref
from typing import Any

import httpx

from .base import BackendError, Capabilities, RateLimitError, Request, Response, TransientError

__all__ = ["RewardServerBackend", "read_scores", "reward_request", "REWARD_PROMPT_TYPE"]

REWARD_PROMPT_TYPE = "reward"


def _first_number(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, list) and v:
        return _first_number(v[0])
    if isinstance(v, dict):
        for k in ("score", "reward", "data", "logits", "probs", "embedding"):
            if k in v:
                return _first_number(v[k])
    return None


def read_scores(payload: Any, n: int) -> list[float]:
    """Scores from a server reply (see the module doc). Raises ValueError when they cannot be read."""
    items = None
    if isinstance(payload, dict):
        for k in ("scores", "rewards", "data"):
            if isinstance(payload.get(k), list):
                items = payload[k]
                break
    elif isinstance(payload, list):
        items = payload
    if items is None:
        raise ValueError(f"reward server reply has no 'data', 'scores' or 'rewards' list: {str(payload)[:200]}")
    if len(items) != n:
        raise ValueError(f"reward server returned {len(items)} scores for {n} inputs")
    if all(isinstance(x, dict) and "index" in x for x in items):
        items = sorted(items, key=lambda x: x["index"])
    vals = [_first_number(x) for x in items]
    if any(v is None for v in vals):
        raise ValueError(f"reward server reply has an item without a number: {str(items)[:200]}")
    return vals  # type: ignore[return-value]


def reward_request(text: str, version: str = "1") -> Request:
    """The request that scores one text (sampling fields fixed: a reward is deterministic)."""
    return Request(messages=[{"role": "user", "content": text}], temperature=0.0, top_p=1.0, max_tokens=1,
                   prompt_type=REWARD_PROMPT_TYPE, prompt_version=f"rm{version}", stage="reward_model")


class RewardServerBackend:
    """POST one text per request to a reward endpoint; the reply's score is the answer."""

    def __init__(self, model: str, *, url: str, api_key: str | None = None, timeout_s: float = 120.0,
                 transport: httpx.AsyncBaseTransport | None = None, max_concurrency: int | None = None) -> None:
        if not url:
            raise BackendError("the reward-model server backend needs a url: rm-server:URL::MODEL")
        self.name = "rm-server"
        self.model_id = model
        self.url = url
        self.capabilities = Capabilities(max_concurrency=max_concurrency)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._kwargs: dict[str, Any] = dict(headers=headers, transport=transport,
                                            timeout=httpx.Timeout(timeout_s, connect=min(30.0, timeout_s)))
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient]
        self._clients = weakref.WeakKeyDictionary()

    @property
    def cache_id(self) -> str:
        return f"{self.model_id}@{self.url}"

    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = httpx.AsyncClient(**self._kwargs)
        return client

    async def complete(self, request: Request) -> Response:
        text = next((m.get("content", "") for m in reversed(request.messages) if m.get("role") == "user"), "")
        t0 = time.perf_counter()
        try:
            resp = await self._client().post(self.url, json={"model": self.model_id, "input": [text]})
        except httpx.TimeoutException as exc:
            raise TransientError(f"reward server {self.url}: timeout: {exc}") from exc
        except httpx.TransportError as exc:
            raise TransientError(f"reward server {self.url} unreachable: {type(exc).__name__}: {exc}") from exc
        if resp.status_code == 429:
            raise RateLimitError(f"reward server {self.url}: HTTP 429")
        if resp.status_code >= 500 or resp.status_code in (408, 409):
            raise TransientError(f"reward server {self.url}: HTTP {resp.status_code}")
        if resp.status_code >= 400:
            raise BackendError(f"reward server {self.url}: HTTP {resp.status_code}: {resp.text[:300]}")
        try:
            score = read_scores(resp.json(), 1)[0]
        except ValueError as exc:
            raise BackendError(str(exc)) from exc
        return Response(text=repr(score), parsed=score, finish_reason="stop", latency_s=time.perf_counter() - t0,
                        backend=self.name, model=self.model_id)

    async def aclose(self) -> None:
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()
