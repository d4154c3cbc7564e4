"""The real ``llama_cpp.server`` (the ``server`` extra) with SmolLM2-135M, through the OpenAI-compatible backend.

slow: starts the server in a subprocess on 127.0.0.1 (plumbing only: never assert that the answers are right).
llama_cpp.server 0.3.x answers ``response_format: json_schema`` with HTTP 500; the backend must learn the
``json_object_schema`` dialect from that one answer and send every request in it.
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from profile_align.backends import Client, Request, Response, schema_errors
from profile_align.backends.openai_compat import OpenAICompatBackend
from profile_align.backends.weights import WeightsError, smollm2_path

SERVER_MODULES = ("llama_cpp", "fastapi", "uvicorn", "sse_starlette", "starlette_context", "pydantic_settings")
HAVE_SERVER = all(importlib.util.find_spec(m) is not None for m in SERVER_MODULES)
SCHEMA = {"type": "object", "properties": {"supported": {"type": "boolean"},
                                           "reason": {"type": "string", "maxLength": 40}},
          "required": ["supported", "reason"]}

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not HAVE_SERVER, reason='llama_cpp.server not installed (pip install "profile-align[server]")')]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    try:
        model = smollm2_path()
    except WeightsError as exc:
        pytest.skip(str(exc))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path_factory.mktemp("llama_server") / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host",
                                 "127.0.0.1", "--port", str(port), "--n_ctx", "2048"], stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(f"{url}/models", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"llama_cpp.server did not start: {log.read_text()[-2000:]}")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_json_requests_work_against_llama_cpp_server(llama_server, tmp_path):
    backend = OpenAICompatBackend("smollm2", base_url=llama_server, api_key="")
    client = Client(backend, cache=tmp_path / "c.sqlite3", progress=False, concurrency=2, timeout_s=300,
                    max_retries=4, backoff_initial_s=0.01)
    reqs = [Request.from_prompt(f"Is {i} an even number? Answer in JSON.", json_schema=SCHEMA, temperature=0.0,
                                max_tokens=48, prompt_type="server_smoke") for i in range(4)]
    out = client.run_all(reqs)
    assert all(isinstance(r, Response) for r in out), [getattr(r, "message", r) for r in out]
    assert backend.dialect == "json_object_schema" and backend.dialect_confirmed
    # the grammar constrains the output: every answer is schema-valid JSON (its truth is not asserted)
    for r in out:
        assert r.parsed is not None and not schema_errors(r.parsed, SCHEMA), r.text
    assert client.accounting.totals().failures == 0
    plain = client.run_all([Request.from_prompt("Say hello.", temperature=0.0, max_tokens=8)])[0]
    assert isinstance(plain, Response) and plain.usage.completion_tokens > 0
    client.close()
