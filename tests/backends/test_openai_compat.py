"""OpenAI-compatible backend: a real fake server on 127.0.0.1, plus httpx.MockTransport for error injection."""

from __future__ import annotations

import json
import math
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from profile_align.backends import Client, Request, RequestFailed, get_backend, yes_probability_from_response
from profile_align.backends.fake import example_from_schema
from profile_align.backends.openai_compat import OpenAICompatBackend

SCHEMA = {"type": "object", "properties": {"supported": {"type": "boolean"}}, "required": ["supported"]}


class _Handler(BaseHTTPRequestHandler):
    received: list = []

    def log_message(self, *args):  # keep test output clean
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        if self.path != "/v1/chat/completions":
            self.send_response(404)
            self.end_headers()
            return
        prompt = body["messages"][-1]["content"]
        fmt = body.get("response_format")
        if fmt and fmt["type"] == "json_schema":
            content = json.dumps(example_from_schema(fmt["json_schema"]["schema"]))
        else:
            content = f"echo: {prompt}"
        choice = {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        if body.get("logprobs"):
            choice["logprobs"] = {"content": [{"token": "Yes", "logprob": math.log(0.6), "top_logprobs": [
                {"token": "Yes", "logprob": math.log(0.6)}, {"token": "No", "logprob": math.log(0.2)},
                {"token": " yes", "logprob": math.log(0.1)}][: body.get("top_logprobs", 1)]}]}
        data = json.dumps({"id": "x", "object": "chat.completion", "model": body["model"], "choices": [choice],
                           "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server():
    _Handler.received = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", _Handler.received
    httpd.shutdown()
    httpd.server_close()


async def test_real_local_server(server, tmp_path, monkeypatch):
    url, received = server
    monkeypatch.setenv("OPENAI_API_KEY", "sk-local")
    client = Client(f"openai-compat:{url}::org/model:q4_K_M", cache=tmp_path / "c.sqlite3", progress=False)
    r = await client.complete(Request.from_prompt("hello", prompt_type="smoke"))
    assert r.text == "echo: hello" and r.model == "org/model:q4_K_M" and r.backend == "openai-compat"
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (11, 7) and r.finish_reason == "stop"
    body = received[0]["body"]
    assert body["model"] == "org/model:q4_K_M" and received[0]["auth"] == "Bearer sk-local"
    assert (body["temperature"], body["top_p"], body["max_tokens"]) == (0.6, 0.9, 1024)

    s = await client.complete(Request.from_prompt("check", json_schema=SCHEMA, seed=3, stop=["\n"]))
    assert s.parsed == {"supported": True}
    body = received[1]["body"]
    assert body["response_format"]["json_schema"]["schema"] == SCHEMA
    assert body["seed"] == 3 and body["stop"] == ["\n"]

    lp = await client.complete(Request.from_prompt("Is it?", logprobs=True, top_logprobs=3, max_tokens=1))
    assert received[2]["body"]["logprobs"] is True and received[2]["body"]["top_logprobs"] == 3
    assert yes_probability_from_response(lp) == pytest.approx(0.7 / 0.9)

    out = await client.map([Request.from_prompt("hello")] + [Request.from_prompt(f"x{i}") for i in range(3)])
    assert out[0].cached and len(received) == 6
    await client.aclose()


async def test_connection_refused_is_retried_then_fails(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = Client(f"openai-compat:http://127.0.0.1:{port}/v1::m", cache_mode="off", progress=False,
                    max_retries=2, backoff_initial_s=0.001, backend_options={"api_key": ""})
    with pytest.raises(RequestFailed, match="connection error") as info:
        await client.complete(Request.from_prompt("x"))
    assert info.value.attempts == 3


def _mock_backend(handler, **kw) -> OpenAICompatBackend:
    return OpenAICompatBackend("m", base_url="http://mock/v1", api_key="k",
                               transport=httpx.MockTransport(handler), **kw)


def _ok(content: str = "fine") -> httpx.Response:
    return httpx.Response(200, json={"choices": [{"message": {"content": content}, "finish_reason": "stop"}],
                                     "usage": {"prompt_tokens": 1, "completion_tokens": 1}})


def _client(backend, **kw) -> Client:
    return Client(backend, cache_mode="off", progress=False, backoff_initial_s=0.001, backoff_max_s=0.5, **kw)


@pytest.mark.parametrize("errors", [
    [httpx.Response(429, headers={"Retry-After": "0.05"}, text="slow down")],
    [httpx.Response(500, text="oops"), httpx.Response(503, text="busy")],
    [httpx.ReadTimeout("timed out"), httpx.ConnectError("reset")],
    [httpx.Response(200, text="<html>not json</html>")],
])
async def test_transient_errors_retried(errors):
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) <= len(errors):
            e = errors[len(calls) - 1]
            if isinstance(e, Exception):
                raise e
            return e
        return _ok()

    r = await _client(_mock_backend(handler), max_retries=3).complete(Request.from_prompt("x"))
    assert r.text == "fine" and len(calls) == len(errors) + 1


async def test_client_errors_not_retried():
    calls = []

    def handler(request):
        calls.append(request)
        return httpx.Response(401, text="bad key")

    with pytest.raises(RequestFailed, match="401"):
        await _client(_mock_backend(handler), max_retries=3).complete(Request.from_prompt("x"))
    assert len(calls) == 1


async def test_response_format_fallback():
    seen = []

    def handler(request):
        body = json.loads(request.content)
        fmt = (body.get("response_format") or {}).get("type")
        seen.append(fmt or ("guided_json" if "guided_json" in body else None))
        if fmt is not None or "guided_json" in body:
            return httpx.Response(400, text=f"unsupported response_format / guided_json ({fmt})")
        assert "JSON schema" in body["messages"][0]["content"]
        return _ok('Here: ```json\n{"supported": false}\n```')

    backend = _mock_backend(handler)
    client = _client(backend)
    r = await client.complete(Request.from_prompt("x", json_schema=SCHEMA))
    assert r.parsed == {"supported": False}
    assert seen == ["json_schema", "json_object", "guided_json", "json_object", None]
    assert backend.dialect == "prompt" and backend.dialect_confirmed
    await client.complete(Request.from_prompt("y", json_schema=SCHEMA))
    assert seen[-1] is None and len(seen) == 6  # the fallback is remembered


async def test_null_content_is_a_failure_not_empty_string():
    def handler(request):
        return httpx.Response(200, json={"choices": [{"message": {"content": None, "refusal": "no"}}]})

    out = await _client(_mock_backend(handler)).map([Request.from_prompt("x")])
    assert isinstance(out[0], RequestFailed) and "refusal" in out[0].message


def test_cache_id_includes_server():
    a = _mock_backend(lambda r: _ok())
    b = OpenAICompatBackend("m", base_url="http://other/v1", api_key="k")
    assert a.cache_id != b.cache_id


def test_ollama_and_openrouter_prefixes(monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", "or-key")
    assert get_backend("ollama:llama3.2:1b").base_url == "http://localhost:11434/v1"
    b = get_backend("openrouter:meta-llama/llama-3-8b-instruct:free")
    assert b.model_id == "meta-llama/llama-3-8b-instruct:free" and b.base_url.startswith("https://openrouter.ai")
