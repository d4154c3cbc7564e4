"""HTTP transports for the OpenAI-compatible backend: POST one JSON body, get one reply.

``aiohttp`` (default): measured in ``benchmarks/bench_http.py`` at 64-256 requests in flight it costs
~0.5 ms CPU per request where ``httpx`` 0.28 costs 5-12 ms (its connection pool does not scale), which
capped API throughput at a fraction of what the server allows. ``httpx`` stays available as a
transport (``transport="httpx"``) and wraps any ``httpx.AsyncBaseTransport`` (tests use
``httpx.MockTransport``). Anything with ``async post(path, body) -> HttpReply`` and ``async aclose()``
is a transport too.

Connection pools belong to one event loop, so each transport keeps one session per running loop; a
session is closed by ``aclose()`` or, at the latest, when ``asyncio.run`` ends its loop (a small keeper
task closes it on cancellation), so ``Client.run_all`` from synchronous code leaks no sockets.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from .base import TransientError

__all__ = [
    "HttpReply",
    "HttpTimeout",
    "HttpConnectionError",
    "Transport",
    "AiohttpTransport",
    "HttpxTransport",
    "TRANSPORTS",
    "make_transport",
]


class HttpTimeout(TransientError):
    """No (complete) answer within the transport's timeout."""


class HttpConnectionError(TransientError):
    """Connection refused/reset, server disconnected, protocol error."""


@dataclass(frozen=True)
class HttpReply:
    status_code: int
    content: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    """Case-insensitive for both built-in transports (``headers.get("retry-after")``)."""

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


@runtime_checkable
class Transport(Protocol):
    async def post(self, path: str, body: bytes) -> HttpReply: ...

    async def aclose(self) -> None: ...


def _env_proxy(base_url: str) -> str | None:
    """The proxy URL the environment names for ``base_url`` (None when unset or bypassed by NO_PROXY)."""
    from urllib.parse import urlsplit
    from urllib.request import getproxies, proxy_bypass

    parts = urlsplit(base_url)
    if parts.hostname and proxy_bypass(parts.hostname):
        return None
    return getproxies().get(parts.scheme)


class _PerLoop:
    """One session per running event loop, closed when that loop's ``asyncio.run`` ends."""

    def __init__(self, open_session: Callable[[], Any], close_session: Callable[[Any], Any]):
        self._open, self._close = open_session, close_session
        self._sessions: dict[int, tuple[asyncio.AbstractEventLoop, Any, asyncio.Task[None]]] = {}

    def get(self) -> Any:
        loop = asyncio.get_running_loop()
        entry = self._sessions.get(id(loop))
        if entry is not None and entry[0] is loop:
            return entry[1]
        session = self._open()
        keeper = loop.create_task(self._keep(id(loop), session), name="profile-align-http-session")
        self._sessions[id(loop)] = (loop, session, keeper)
        return session

    async def _keep(self, key: int, session: Any) -> None:
        try:
            await asyncio.get_running_loop().create_future()  # until cancelled (aclose or loop shutdown)
        finally:
            entry = self._sessions.get(key)
            if entry is not None and entry[1] is session:
                del self._sessions[key]
            await self._close(session)

    def __len__(self) -> int:
        return len(self._sessions)

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        entry = self._sessions.get(id(loop))
        if entry is None or entry[0] is not loop:
            return
        keeper = entry[2]
        keeper.cancel()
        await asyncio.gather(keeper, return_exceptions=True)  # its CancelledError is a result, ours propagates


class AiohttpTransport:
    """aiohttp ``ClientSession`` with an unbounded keep-alive pool (the client's semaphore bounds requests)."""

    def __init__(self, base_url: str, *, headers: Mapping[str, str] | None = None, timeout_s: float = 600.0,
                 connect_timeout_s: float = 30.0, trust_env: bool = True):
        import aiohttp  # core dependency; imported here so that importing the package stays cheap

        self._aiohttp = aiohttp
        self.base_url = base_url.rstrip("/")
        self._headers = dict(headers or {})
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=min(connect_timeout_s, timeout_s))
        # the proxy from the environment (HTTP(S)_PROXY, NO_PROXY) is looked up once here: aiohttp's own
        # trust_env looks up proxy and netrc in a worker thread on every request (~0.2 ms CPU each)
        self._proxy = _env_proxy(self.base_url) if trust_env else None
        self._urls: dict[str, Any] = {}
        self._per_loop = _PerLoop(self._open, lambda s: s.close())

    def _open(self) -> Any:
        aiohttp = self._aiohttp
        return aiohttp.ClientSession(headers=self._headers, timeout=self._timeout, trust_env=False,
                                     cookie_jar=aiohttp.DummyCookieJar(), connector=aiohttp.TCPConnector(limit=0))

    def _url(self, path: str) -> Any:
        url = self._urls.get(path)
        if url is None:  # parse once: yarl parsing is a visible share of the per-request cost
            import yarl

            url = self._urls[path] = yarl.URL(self.base_url + path)
        return url

    async def post(self, path: str, body: bytes) -> HttpReply:
        aiohttp = self._aiohttp
        session = self._per_loop.get()
        try:
            async with session.post(self._url(path), data=body, proxy=self._proxy) as resp:
                content = await resp.read()
                return HttpReply(resp.status, content, resp.headers)
        except asyncio.TimeoutError as exc:  # aiohttp's timeouts subclass it
            detail = f": {exc}" if str(exc) else ""
            raise HttpTimeout(f"timeout: no answer within {self._timeout.total:g} s "
                              f"({type(exc).__name__}{detail})") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise HttpConnectionError(f"connection error: {type(exc).__name__}: {exc}") from exc

    @property
    def open_sessions(self) -> int:
        """Sessions (one per event loop) not yet closed."""
        return len(self._per_loop)

    async def aclose(self) -> None:
        await self._per_loop.aclose()


class HttpxTransport:
    """httpx ``AsyncClient``; ``transport`` may be any ``httpx.AsyncBaseTransport`` (e.g. ``MockTransport``)."""

    def __init__(self, base_url: str, *, headers: Mapping[str, str] | None = None, timeout_s: float = 600.0,
                 connect_timeout_s: float = 30.0, transport: Any = None):
        import httpx

        self._httpx = httpx
        self.base_url = base_url.rstrip("/")
        self._kwargs: dict[str, Any] = dict(
            base_url=self.base_url, headers=dict(headers or {}), transport=transport,
            timeout=httpx.Timeout(timeout_s, connect=min(connect_timeout_s, timeout_s)),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
        )
        self._per_loop = _PerLoop(lambda: httpx.AsyncClient(**self._kwargs), lambda c: c.aclose())

    async def post(self, path: str, body: bytes) -> HttpReply:
        httpx = self._httpx
        client = self._per_loop.get()
        try:
            resp = await client.post(path, content=body)
        except httpx.TimeoutException as exc:
            raise HttpTimeout(f"timeout: {exc}") from exc
        except httpx.TransportError as exc:  # connection refused/reset, protocol errors
            raise HttpConnectionError(f"connection error: {type(exc).__name__}: {exc}") from exc
        return HttpReply(resp.status_code, resp.content, resp.headers)

    @property
    def open_sessions(self) -> int:
        """Sessions (one per event loop) not yet closed."""
        return len(self._per_loop)

    async def aclose(self) -> None:
        await self._per_loop.aclose()


TRANSPORTS: dict[str, Callable[..., Transport]] = {"aiohttp": AiohttpTransport, "httpx": HttpxTransport}


def make_transport(spec: Any, base_url: str, **options: Any) -> Transport:
    """``spec``: a name in :data:`TRANSPORTS`, an ``httpx.AsyncBaseTransport`` (wrapped in
    :class:`HttpxTransport`) or a ready :class:`Transport`."""
    if isinstance(spec, str):
        try:
            factory = TRANSPORTS[spec]
        except KeyError:
            raise ValueError(f"unknown HTTP transport {spec!r}; one of {sorted(TRANSPORTS)}") from None
        return factory(base_url, **options)
    if isinstance(spec, Transport):
        return spec
    import httpx

    if isinstance(spec, httpx.AsyncBaseTransport):
        return HttpxTransport(base_url, transport=spec, **options)
    raise TypeError(f"transport must be a name {sorted(TRANSPORTS)}, an httpx.AsyncBaseTransport or a Transport, "
                    f"not {type(spec).__name__}")
