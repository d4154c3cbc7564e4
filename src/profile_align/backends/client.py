"""The one entry point the rest of profile-align calls.

``Client`` = backend + cache + bounded concurrency + optional RPM/TPM limits + retries (exponential
backoff with jitter on 429/5xx/timeouts/connection errors) + a hard per-attempt timeout + the call record
+ progress bars. A request whose retries run out becomes a :class:`RequestFailed` (raised by ``complete``,
returned in place by ``map``), recorded in the cache and retried on the next run.

Every call writes exactly one :class:`~profile_align.backends.records.CallRecord` (new, shared with an
identical request in flight, served from the cache, or failed); ``mark_unparseable`` is the one way a
caller says it could not use an answer. ``accounting`` is a view over these records.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

from .accounting import Accounting, Prices
from .budget import Budget
from .base import Backend, BackendError, Request, RequestFailed, Response, TransientError, is_scoring_request
from .cache import Cache, CacheMode, cache_key
from .parsing import ParseError, extract_json, parse_model
from .records import CallLog, CallRecord, Records, input_key
from .ratelimit import RateLimiter
from .registry import get_backend

__all__ = ["Client"]

M = TypeVar("M", bound=BaseModel)
_timeout = getattr(asyncio, "timeout", None)  # Python >= 3.11


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, TransientError)


class Client:
    """Wraps one backend. Use ``await client.complete(req)``, ``await client.map(reqs)`` or ``client.run_all(reqs)``.

    Args:
        backend: a Backend or a model string (``local``, ``openai:gpt-4o-mini``, ``openai-compat:URL::MODEL``...).
        calls: the call log its records go to (share one between the clients of a run: one invocation).
        model_label: the model string in the records (default: ``backend`` when a string, else name:model_id).
        cache: a :class:`Cache`, a path to the SQLite file, or None for the default user cache file.
        cache_mode: ``use`` | ``refresh`` | ``off`` (when ``cache`` is not already a Cache).
        concurrency: max requests in flight (capped by the backend's own ``max_concurrency``).
        rpm, tpm: optional requests / tokens per minute limits.
        max_retries: retries after the first attempt for transient errors (429, 5xx, timeouts, connection).
        timeout_s: hard limit per attempt.
        backoff_initial_s, backoff_max_s: exponential backoff with jitter; a server's Retry-After is honoured.
    """

    def __init__(
        self,
        backend: Backend | str,
        *,
        cache: Cache | str | Path | None = None,
        cache_mode: CacheMode = "use",
        concurrency: int = 8,
        rpm: float | None = None,
        tpm: float | None = None,
        max_retries: int = 4,
        timeout_s: float = 300.0,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 60.0,
        accounting: Accounting | None = None,
        prices: Prices | None = None,
        progress: bool = True,
        console: Any = None,
        backend_options: dict[str, Any] | None = None,
        calls: CallLog | None = None,
        model_label: str | None = None,
        stage: str = "",
        budget: Budget | None = None,
    ):
        self.backend: Backend = get_backend(backend, **(backend_options or {})) if isinstance(backend, str) else backend
        self.cache = cache if isinstance(cache, Cache) else Cache(cache, mode=cache_mode)
        cap = self.backend.capabilities.max_concurrency
        self.concurrency = max(1, min(concurrency, cap) if cap else concurrency)
        self.rpm, self.tpm = rpm, tpm
        self.max_retries = max(0, max_retries)
        self.timeout_s = timeout_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.accounting = accounting or Accounting(prices, calls)
        self.calls: CallLog = self.accounting.calls
        self.model: str = model_label or (backend if isinstance(backend, str)
                                          else f"{self.backend.name}:{self.backend.model_id}")
        """The model string of the call records and answers tables."""
        self.stage = stage
        self.budget = budget
        """Shared spending limit (``--max-requests`` / ``--max-cost``); None: no limit."""
        """Stage of requests that name none (``Request.stage`` and ``map(stage=)`` win)."""
        self.progress = progress
        self.console = console
        self._per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[asyncio.Semaphore, RateLimiter]]
        self._per_loop = weakref.WeakKeyDictionary()
        self._inflight: dict[str, asyncio.Future[Response]] = {}
        self._cache_id = self.backend.cache_id

    # ------------------------------------------------------------------ helpers
    def _loop_state(self) -> tuple[asyncio.Semaphore, RateLimiter]:
        loop = asyncio.get_running_loop()
        state = self._per_loop.get(loop)
        if state is None:
            state = (asyncio.Semaphore(self.concurrency), RateLimiter(self.rpm, self.tpm))
            self._per_loop[loop] = state
        return state

    def key(self, request: Request) -> str:
        return cache_key(self.backend.name, self._cache_id, request)[0]

    def _backoff(self, failed_attempts: int, exc: BaseException | None) -> float:
        """Exponential backoff with jitter; a server's Retry-After wins when longer (capped at backoff_max_s)."""
        base = min(self.backoff_max_s,
                   self.backoff_initial_s * 2.0 ** (failed_attempts - 1) + random.uniform(0, self.backoff_initial_s))
        after = getattr(exc, "retry_after", None)
        return min(max(base, float(after)), self.backoff_max_s) if after else base

    def _wait(self, retry_state: Any) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        return self._backoff(retry_state.attempt_number + 1, exc)

    @staticmethod
    def _estimate_tokens(request: Request) -> int:
        return sum(len(m.get("content", "")) for m in request.messages) // 4 + request.max_tokens

    def _finish(self, request: Request, resp: Response) -> Response:
        resp.prompt_type = request.prompt_type
        if not resp.backend:
            resp.backend = self.backend.name
        if not resp.model:
            resp.model = self.backend.model_id
        if request.json_schema is not None and resp.parsed is None and not resp.cached:
            try:
                resp.parsed = extract_json(resp.text)
            except ParseError:
                resp.parsed = None
        return resp

    def _record(self, request: Request, key: str, stage: str, result: Response | RequestFailed,
                cached: bool) -> CallRecord:
        """The call record of one answer or failure (status from the answer: an unreadable JSON answer is
        ``unparseable``, a content-filter stop ``refused``)."""
        base: dict[str, Any] = dict(call_id=self.calls.new_id(), invocation=self.calls.invocation, ts=time.time(), model=self.model,
                    model_id=self.backend.model_id, backend=self.backend.name, prompt_type=request.prompt_type,
                    stage=stage, input_key=input_key(request.messages), key=key,
                    scoring=is_scoring_request(request))
        if isinstance(result, RequestFailed):
            return CallRecord(**base, status="failed", error=f"{result.error_type}: {result.message}")
        finish = result.finish_reason or ""
        status = ("refused" if finish.lower() in ("content_filter", "refusal") else
                  "unparseable" if request.json_schema is not None and result.parsed is None else "ok")
        pt, ct = result.usage.prompt_tokens, result.usage.completion_tokens
        return CallRecord(**base, status=status, prompt_tokens=pt, completion_tokens=ct,
                          cost_usd=self.accounting.prices.cost(result.backend or self.backend.name,
                                                               result.model or self.backend.model_id, pt, ct),
                          latency_s=0.0 if cached else float(result.latency_s), cached=cached, finish_reason=finish,
                          empty=not (result.text or "").strip())

    def _keep(self, record: CallRecord, result: Response | RequestFailed) -> None:
        self.calls.add(record, self.cache if self.cache.enabled else None)
        result.call_id = record.call_id

    async def _record_only(self, request: Request, key: str, stage: str, result: Response | RequestFailed,
                           cached: bool) -> None:
        """Write the record of a call the backend did not answer (cache hit, shared answer, shared failure)."""
        rec = self._record(request, key, stage, result, cached)
        self._keep(rec, result)
        await self.cache.aput_record(rec, result.text if isinstance(result, Response) else None)

    def mark_unparseable(self, response: Response | RequestFailed | None) -> None:
        """The caller could not use this answer: its call record becomes ``unparseable`` (idempotent; a
        failed call stays failed). The one way parse failures are counted."""
        self.mark(response, "unparseable")

    def mark_usable(self, response: Response | RequestFailed | None, usable: bool) -> None:
        """The caller's verdict on an answer: ``usable=False`` is :meth:`mark_unparseable`; ``True`` clears an
        ``unparseable`` status the client set because no JSON could be extracted but the caller read the
        text anyway. The caller decides what counts as a parse failure."""
        self.mark(response, "ok" if usable else "unparseable")

    def mark(self, response: Response | RequestFailed | None, status: str) -> None:
        """Set the status of an answer's call record (``ok``, ``unparseable`` or ``refused``)."""
        call_id = getattr(response, "call_id", "")
        if call_id:
            self.calls.mark(call_id, status)

    def records(self) -> Records:
        """This invocation's call records (every client sharing this client's call log)."""
        return self.calls.records()

    # ------------------------------------------------------------------ core
    async def _call(self, request: Request) -> Response:
        try:
            if _timeout is not None:
                async with _timeout(self.timeout_s):
                    resp = await self.backend.complete(request)
            else:  # Python 3.10
                resp = await asyncio.wait_for(self.backend.complete(request), self.timeout_s)
        except asyncio.TimeoutError as exc:
            raise TransientError(f"no answer within {self.timeout_s:g} s") from exc
        if not isinstance(resp, Response):
            raise BackendError(f"backend returned {type(resp).__name__}, not Response")
        return resp

    async def _attempts(self, request: Request, limiter: RateLimiter, counter: list[int]) -> Response:
        """First attempt directly (the fast path); tenacity takes over only after a transient error."""
        counter[0] += 1
        if limiter.active:
            await limiter.acquire(self._estimate_tokens(request))
        try:
            return await self._call(request)
        except TransientError as exc:
            if self.max_retries == 0:
                raise
            first_error = exc
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.max_retries),
            wait=self._wait,
            retry=retry_if_exception(_is_retryable),
            reraise=True,
        )
        await asyncio.sleep(self._backoff(1, first_error))
        async for attempt in retrying:
            with attempt:
                counter[0] += 1
                if limiter.active:
                    await limiter.acquire(self._estimate_tokens(request))
                return await self._call(request)
        raise AssertionError("unreachable")  # pragma: no cover

    async def complete(self, request: Request, stage: str | None = None) -> Response:
        """One request through cache -> limiter -> backend (with retries). Raises :class:`RequestFailed`.
        Writes one call record (``stage``: this call's stage, default ``request.stage`` or the client's)."""
        stage = stage or request.stage or self.stage
        backend_name, model = self.backend.name, self.backend.model_id
        key, payload = cache_key(backend_name, self._cache_id, request)
        hit = self.cache.get(key)
        if hit is not None:
            hit.prompt_type = request.prompt_type
            await self._record_only(request, key, stage, hit, cached=True)
            return hit
        leader = self._inflight.get(key)
        if leader is not None:  # an identical request is already running: share its answer
            try:
                resp = (await asyncio.shield(leader)).model_copy(update={"cached": True, "latency_s": 0.0})
            except asyncio.CancelledError:
                if leader.cancelled():  # the leader was cancelled, not us: run it ourselves
                    return await self.complete(request, stage)
                raise
            except RequestFailed as shared:
                failure = RequestFailed(shared.message, request=request, key=key, attempts=0,
                                        error_type=shared.error_type)
                await self._record_only(request, key, stage, failure, cached=False)
                raise failure from shared
            resp.prompt_type = request.prompt_type
            await self._record_only(request, key, stage, resp, cached=True)
            return resp
        if self.budget is not None:
            self.budget.take()  # BudgetExceeded stops the run cleanly: answers so far are in the cache
        fut: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._inflight[key] = fut
        try:
            sem, limiter = self._loop_state()
            async with sem:
                counter = [0]
                try:
                    resp = await self._attempts(request, limiter, counter)
                except Exception as exc:  # retries ran out, permanent error, or a backend bug
                    failure = RequestFailed(str(exc) or type(exc).__name__, request=request, key=key,
                                            attempts=counter[0], error_type=type(exc).__name__)
                    rec = self._record(request, key, stage, failure, cached=False)
                    self._keep(rec, failure)
                    await self.cache.aput_failure(key, payload, request, failure, backend_name, model, rec)
                    fut.set_exception(failure)
                    fut.exception()  # mark retrieved
                    raise failure from exc
            resp = self._finish(request, resp)
            rec = self._record(request, key, stage, resp, cached=False)
            if self.budget is not None:
                self.budget.spend(rec.cost_usd)
            self._keep(rec, resp)  # in memory first: an answer paid for is counted even if the run dies now
            await self.cache.aput(key, payload, request, resp, counter[0], rec)  # committed before anyone sees it
            fut.set_result(resp)
            return resp
        finally:
            if not fut.done():
                fut.cancel()
            self._inflight.pop(key, None)

    async def map(self, requests: Sequence[Request], desc: str = "LLM requests",
                  stage: str | None = None) -> list[Response | RequestFailed]:
        """All requests, in order; failures come back as :class:`RequestFailed` values (never "")."""
        requests = list(requests)
        results: list[Response | RequestFailed | None] = [None] * len(requests)
        if not requests:
            return []
        next_index = iter(range(len(requests)))
        n_failed = 0
        progress, task_id = self._progress(desc, len(requests))

        async def worker() -> None:
            nonlocal n_failed
            for i in next_index:
                try:
                    results[i] = await self.complete(requests[i], stage)
                except RequestFailed as failure:
                    results[i] = failure
                    n_failed += 1
                if progress is not None:
                    progress.update(task_id, advance=1, failed=n_failed)

        try:
            if progress is not None:
                progress.start()
            # more workers than backend slots: while one waits for its cache commit another can use the slot
            # (the semaphore in complete() still bounds requests in flight to ``concurrency``)
            n_workers = 2 * self.concurrency if self.cache.enabled else self.concurrency
            await asyncio.gather(*(worker() for _ in range(min(n_workers, len(requests)))))
        finally:
            if progress is not None:
                progress.stop()
        return results  # type: ignore[return-value]

    def _progress(self, desc: str, total: int) -> tuple[Any, Any]:
        if not self.progress:
            return None, None
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)

        from ._progress import RateColumn

        progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
            RateColumn(), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            TextColumn("[red]{task.fields[failed]} failed"),
            console=self.console, transient=False, refresh_per_second=4,
        )
        return progress, progress.add_task(desc, total=total, failed=0)

    # ------------------------------------------------------------------ structured output
    def parse(self, response: Response, model: type[M]) -> M | None:
        """Validate a response against a pydantic model; a failure is counted (per prompt type), never guessed."""
        source = response.parsed if response.parsed is not None else response.text
        try:
            value = parse_model(source, model)
        except ParseError:
            self.mark_unparseable(response)
            return None
        self.mark_usable(response, True)
        return value

    async def map_structured(self, requests: Sequence[Request], model: type[M], desc: str = "LLM requests",
                             stage: str | None = None) -> list[M | RequestFailed | ParseError]:
        """Like :meth:`map`, filling ``json_schema`` from ``model`` and validating every answer."""
        schema = model.model_json_schema()
        reqs = [r if r.json_schema is not None else r.model_copy(update={"json_schema": schema}) for r in requests]
        out: list[M | RequestFailed | ParseError] = []
        for resp in await self.map(reqs, desc=desc, stage=stage):
            if isinstance(resp, RequestFailed):
                out.append(resp)
                continue
            value = self.parse(resp, model)
            out.append(value if value is not None else ParseError(f"unparseable {model.__name__}", resp.text))
        return out

    # ------------------------------------------------------------------ sync helpers and lifecycle
    def run_all(self, requests: Sequence[Request], desc: str = "LLM requests",
                stage: str | None = None) -> list[Response | RequestFailed]:
        """Synchronous :meth:`map` for callers that are not async (works inside a running loop too)."""
        return _run_sync(lambda: self.map(requests, desc=desc, stage=stage))

    def complete_sync(self, request: Request, stage: str | None = None) -> Response:
        return _run_sync(lambda: self.complete(request, stage))

    def summary_table(self) -> Any:
        return self.accounting.summary_table()

    async def aclose(self) -> None:
        close = getattr(self.backend, "aclose", None)
        if close is not None:
            await close()
        self.cache.close()

    def close(self) -> None:
        _run_sync(self.aclose)

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()


def _run_sync(make_coro: Callable[[], Any]) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make_coro())
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(make_coro())
        except BaseException as exc:  # pragma: no cover - re-raised below
            box["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]

