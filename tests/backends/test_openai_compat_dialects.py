"""Structured-output dialects and the aiohttp transport against real fake servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from profile_align.backends import Client, RateLimitError, Request, TransientError
from profile_align.backends.fake import example_from_schema
from profile_align.backends.http import AiohttpTransport, HttpConnectionError, HttpTimeout
from profile_align.backends.openai_compat import DIALECTS, OpenAICompatBackend

SCHEMA = {"type": "object", "properties": {"supported": {"type": "boolean"}, "n": {"type": "integer", "minimum": 3}},
          "required": ["supported", "n"]}
ANSWER = {"supported": True, "n": 3}
LLAMA_CPP_500 = ("{'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
                 "'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema'}")


def _reply(handler: BaseHTTPRequestHandler, code: int, payload: object, headers: dict | None = None) -> None:
    data = json.dumps(payload).encode()
    try:
        handler.send_response(code)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            handler.send_header(k, v)
        handler.end_headers()
        handler.wfile.write(data)
    except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
        pass


def _completion(content: str) -> dict:
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 3}}


def _dialect_of(body: dict) -> str:
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return "json_schema"
    if fmt.get("type") == "json_object":
        return "json_object_schema" if "schema" in fmt else "json_object"
    if "guided_json" in body:
        return "guided_json"
    return "prompt"


def _schema_in_prompt(body: dict) -> dict | None:
    first = body["messages"][0]
    if first["role"] == "system" and "JSON schema" in first["content"]:
        return json.loads(first["content"].split(":\n", 1)[1])
    return None


# what each fake server does with a structured request in a dialect: (status, reply text) per dialect
def _llama_cpp_server(dialect: str, body: dict) -> tuple[int, object]:
    """llama_cpp.server 0.3.x: 500 for json_schema (pydantic literal error), json_object+schema constrains."""
    if dialect == "json_schema":
        return 500, {"error": {"message": LLAMA_CPP_500, "type": "internal_server_error"}}
    if dialect == "json_object_schema":
        return 200, _completion(json.dumps(example_from_schema(body["response_format"]["schema"])))
    return 200, _completion("not json")


def _openai_server(dialect: str, body: dict) -> tuple[int, object]:
    if dialect == "json_schema":
        return 200, _completion(json.dumps(example_from_schema(body["response_format"]["json_schema"]["schema"])))
    if dialect == "prompt" and _schema_in_prompt(body) is None:
        return 200, _completion("hi")
    return 400, {"error": {"message": "unexpected"}}


def _old_vllm_server(dialect: str, body: dict) -> tuple[int, object]:
    """Knows guided_json only; rejects every response_format (strict request model) with a 400."""
    if "response_format" in body:
        return 400, {"object": "error", "message": "1 validation error: response_format: extra fields not permitted"}
    if dialect == "guided_json":
        return 200, _completion(json.dumps(example_from_schema(body["guided_json"])))
    return 200, _completion("not json")


def _plain_server(dialect: str, body: dict) -> tuple[int, object]:
    """No structured output at all: rejects response_format and guided_json with 422; follows the prompt."""
    if "response_format" in body:
        return 422, {"detail": "response_format is not supported"}
    if "guided_json" in body:
        return 422, {"detail": "unknown field guided_json"}
    schema = _schema_in_prompt(body)
    return 200, _completion(f"Sure:\n```json\n{json.dumps(example_from_schema(schema))}\n```" if schema else "hi")


class _Server:
    def __init__(self, behaviour, latency_s: float = 0.0):
        self.seen: list[str] = []
        self.in_flight = self.max_in_flight = 0
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, like real servers

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    outer.in_flight += 1
                    outer.max_in_flight = max(outer.max_in_flight, outer.in_flight)
                try:
                    time.sleep(latency_s)
                    dialect = _dialect_of(body)
                    outer.seen.append(dialect)
                    code, payload = behaviour(dialect, body) if body.get("messages") else (200, {})
                    _reply(self, code, payload)
                finally:
                    with lock:
                        outer.in_flight -= 1

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve():
    servers: list[_Server] = []

    def start(behaviour, latency_s: float = 0.0) -> _Server:
        servers.append(_Server(behaviour, latency_s))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def _client(backend, **kw) -> Client:
    kw.setdefault("max_retries", 4)
    return Client(backend, cache_mode="off", progress=False, backoff_initial_s=0.001, backoff_max_s=0.01, **kw)


@pytest.mark.parametrize(("behaviour", "dialect", "rejections"), [
    (_openai_server, "json_schema", []),
    (_llama_cpp_server, "json_object_schema", ["json_schema"]),
    (_old_vllm_server, "guided_json", ["json_schema", "json_object_schema"]),
    (_plain_server, "prompt", ["json_schema", "json_object_schema", "guided_json", "json_object"]),
])
async def test_dialect_learnt_once_without_retries(serve, behaviour, dialect, rejections):
    server = serve(behaviour)
    backend = OpenAICompatBackend("m", base_url=server.url, api_key="")
    client = _client(backend, concurrency=4)
    out = await client.map([Request.from_prompt(f"q{i}", json_schema=SCHEMA) for i in range(6)])
    assert [r.parsed for r in out] == [ANSWER] * 6
    # each rejected dialect is tried exactly once (no 5x retries of a deterministic error), then the learnt one
    assert server.seen == rejections + [dialect] * 6
    assert backend.dialect == dialect and backend.dialect_confirmed
    # requests without a schema are sent as they are, whatever the dialect
    plain = await client.complete(Request.from_prompt("free text"))
    assert server.seen[-1] == "prompt" and plain.parsed is None
    await client.aclose()


async def test_probe_does_not_serialise_the_waiters(serve):
    # 8 structured requests at once, 0.2 s each: the first probes alone, the other 7 then go together
    server = serve(_llama_cpp_server, latency_s=0.2)
    backend = OpenAICompatBackend("m", base_url=server.url, api_key="")
    client = _client(backend, concurrency=8)
    t0 = time.perf_counter()
    out = await client.map([Request.from_prompt(f"q{i}", json_schema=SCHEMA) for i in range(8)])
    wall = time.perf_counter() - t0
    assert all(r.parsed == ANSWER for r in out)
    assert server.seen.count("json_schema") == 1 and server.max_in_flight >= 4
    assert wall < 1.2  # serialised waiters would take 0.2 * (2 + 7) = 1.8 s
    await client.aclose()


async def test_unrelated_500_stays_transient_and_keeps_the_dialect(serve):
    calls = []

    def flaky(dialect, body):
        calls.append(dialect)
        if len(calls) == 1:
            return 500, {"error": {"message": "CUDA out of memory"}}
        return _openai_server(dialect, body)

    server = serve(flaky)
    backend = OpenAICompatBackend("m", base_url=server.url, api_key="")
    r = await _client(backend).complete(Request.from_prompt("x", json_schema=SCHEMA))
    assert r.parsed == ANSWER and calls == ["json_schema", "json_schema"] and backend.dialect == "json_schema"


async def test_explicit_json_mode_starts_there(serve):
    server = serve(_llama_cpp_server)
    backend = OpenAICompatBackend("m", base_url=server.url, api_key="", json_mode="json_object_schema")
    r = await _client(backend).complete(Request.from_prompt("x", json_schema=SCHEMA))
    assert r.parsed == ANSWER and server.seen == ["json_object_schema"]
    with pytest.raises(ValueError, match="json_mode"):
        OpenAICompatBackend("m", base_url=server.url, json_mode="grammar")
    assert list(DIALECTS) == ["json_schema", "json_object_schema", "guided_json", "json_object", "prompt"]


async def test_429_without_retry_after_over_aiohttp(serve):
    def limited(dialect, body):
        return 429, {"error": {"message": "slow down"}}

    server = serve(limited)
    backend = OpenAICompatBackend("m", base_url=server.url, api_key="")
    with pytest.raises(RateLimitError, match="HTTP 429: .*slow down") as info:
        await backend.complete(Request.from_prompt("x"))
    assert info.value.retry_after is None
    await backend.aclose()


def _header_server(code: int, headers: dict, payload: object):
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            _reply(self, code, payload, headers)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}/v1"


async def test_retry_after_header_is_read():
    httpd, url = _header_server(429, {"Retry-After": "7"}, {"error": "busy"})
    try:
        backend = OpenAICompatBackend("m", base_url=url, api_key="")
        with pytest.raises(RateLimitError) as info:
            await backend.complete(Request.from_prompt("x"))
        assert info.value.retry_after == 7.0
        await backend.aclose()
    finally:
        httpd.shutdown()
        httpd.server_close()


async def test_timeout_is_transient_with_name_in_message(serve):
    server = serve(_openai_server, latency_s=1.0)
    backend = OpenAICompatBackend("m", base_url=server.url, api_key="", timeout_s=0.2)
    with pytest.raises(HttpTimeout, match=r"^openai-compat: timeout: no answer within 0.2 s") as info:
        await backend.complete(Request.from_prompt("x"))
    assert isinstance(info.value, TransientError)
    await backend.aclose()


async def test_connection_refused_is_a_connection_error():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    backend = OpenAICompatBackend("m", base_url=f"http://127.0.0.1:{port}/v1", api_key="")
    with pytest.raises(HttpConnectionError, match="^openai-compat: connection error"):
        await backend.complete(Request.from_prompt("x"))
    await backend.aclose()


def test_sync_runs_close_their_sessions(serve):
    # Client.run_all from synchronous code runs a fresh event loop each time; its session must not outlive it
    server = serve(_openai_server)
    backend = OpenAICompatBackend("m", base_url=server.url, api_key="")
    client = _client(backend)
    for _ in range(2):
        out = client.run_all([Request.from_prompt("x", json_schema=SCHEMA)])
        assert out[0].parsed == ANSWER
        assert backend.transport.open_sessions == 0  # closed when asyncio.run ended its loop
    client.close()


async def test_aiohttp_transport_aclose_then_reuse(serve):
    server = serve(_openai_server)
    t = AiohttpTransport(server.url)
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "x"}]}).encode()
    assert (await t.post("/chat/completions", body)).status_code == 200
    await t.aclose()
    await t.aclose()  # idempotent
    assert (await t.post("/chat/completions", body)).json()["choices"][0]["message"]["content"] == "hi"
    assert t.open_sessions == 1  # a new session opened on demand
    await t.aclose()


def test_env_proxy_resolved_once(monkeypatch):
    monkeypatch.setenv("http_proxy", "http://proxy.invalid:3128")
    monkeypatch.setenv("no_proxy", "")
    assert AiohttpTransport("http://api.example/v1")._proxy == "http://proxy.invalid:3128"
    monkeypatch.setenv("no_proxy", "api.example")
    assert AiohttpTransport("http://api.example/v1")._proxy is None
    assert AiohttpTransport("http://api.example/v1", trust_env=False)._proxy is None


def test_unknown_transport_name():
    with pytest.raises(ValueError, match="unknown HTTP transport 'curl'"):
        OpenAICompatBackend("m", base_url="http://h/v1", transport="curl")
    with pytest.raises(TypeError, match="transport must be"):
        OpenAICompatBackend("m", base_url="http://h/v1", transport=42)


async def test_no_event_loop_leak_between_loops(serve):
    server = serve(_openai_server)
    backend = OpenAICompatBackend("m", base_url=server.url, api_key="")

    def in_new_loop():
        return asyncio.run(backend.complete(Request.from_prompt("x", json_schema=SCHEMA)))

    r = await asyncio.to_thread(in_new_loop)  # another thread's loop, while this loop also holds a session
    assert r.text and (await backend.complete(Request.from_prompt("y"))).text == "hi"
    assert backend.transport.open_sessions == 1  # only this loop's session remains
    await backend.aclose()
    assert backend.transport.open_sessions == 0


async def test_any_transport_object_can_stand_in():
    from profile_align.backends.http import HttpReply

    class Recorder:
        def __init__(self):
            self.posts: list[tuple[str, dict]] = []
            self.closed = False

        async def post(self, path: str, body: bytes) -> HttpReply:
            self.posts.append((path, json.loads(body)))
            return HttpReply(200, json.dumps(_completion('{"supported": false, "n": 4}')).encode())

        async def aclose(self) -> None:
            self.closed = True

    rec = Recorder()
    backend = OpenAICompatBackend("m", base_url="http://unused/v1", transport=rec, extra_body={"top_k": 5})
    r = await backend.complete(Request.from_prompt("x", json_schema=SCHEMA))
    assert r.text == '{"supported": false, "n": 4}' and (r.usage.prompt_tokens, r.usage.completion_tokens) == (5, 3)
    path, body = rec.posts[0]
    assert path == "/chat/completions" and body["top_k"] == 5 and body["response_format"]["type"] == "json_schema"
    await backend.aclose()
    assert rec.closed
