from __future__ import annotations

import asyncio
import time

import pytest
from pydantic import BaseModel

from profile_align.backends import (Accounting, BackendError, ParseError, Prices, RateLimitError,
                                    RequestFailed, Response, TransientError, yes_probability_from_response)
from profile_align.backends.fake import FakeBackend, FakeReply

from .conftest import req

SCHEMA = {"type": "object", "properties": {"verdict": {"type": "string", "enum": ["A", "B", "tie"]}},
          "required": ["verdict"]}


class Verdict(BaseModel):
    verdict: str


async def test_retries_429_then_success(make_client):
    fake = FakeBackend("echo", fail_first=2)  # two 429s per prompt, then an answer
    client = make_client(fake, max_retries=3)
    r = await client.complete(req("hello"))
    assert r.text == "hello" and fake.calls == 3
    assert client.accounting.totals().failed == 0


async def test_retry_after_is_honoured(make_client):
    fake = FakeBackend("echo", fail_first=1, fail_with=RateLimitError("429", retry_after=0.2))
    client = make_client(fake, max_retries=2, backoff_max_s=1.0)
    t0 = time.perf_counter()
    await client.complete(req("x"))
    assert time.perf_counter() - t0 >= 0.19


async def test_failure_recorded_after_retries_run_out(make_client):
    fake = FakeBackend("ratelimit")
    client = make_client(fake, max_retries=3)
    with pytest.raises(RequestFailed) as info:
        await client.complete(req("x", prompt_type="pairwise_eval"))
    failure = info.value
    assert failure.attempts == 4 and fake.calls == 4 and failure.error_type == "RateLimitError"
    assert client.cache.status(failure.key) == "failed"
    out = await client.map([req("y"), req("z")])
    assert all(isinstance(o, RequestFailed) for o in out)
    assert not any(isinstance(o, str) or getattr(o, "text", None) == "" for o in out)
    stats = client.accounting.to_dict()
    assert stats["total"]["failures"] == 3
    assert client.accounting.over_threshold(0.5) == {"pairwise_eval": 1.0, "default": 1.0}


async def test_permanent_errors_are_not_retried(make_client):
    fake = FakeBackend("echo", rule=lambda r: BackendError("HTTP 400 bad request"))
    client = make_client(fake, max_retries=5)
    with pytest.raises(RequestFailed):
        await client.complete(req("x"))
    assert fake.calls == 1


async def test_backend_bug_becomes_recorded_failure(make_client):
    fake = FakeBackend("echo", rule=lambda r: 1 / 0)
    client = make_client(fake)
    out = await client.map([req("x")])
    assert isinstance(out[0], RequestFailed) and out[0].error_type == "ZeroDivisionError"


async def test_hard_timeout(make_client):
    fake = FakeBackend("echo", latency_s=5.0)
    client = make_client(fake, timeout_s=0.05, max_retries=1)
    t0 = time.perf_counter()
    with pytest.raises(RequestFailed, match="no answer within"):
        await client.complete(req("slow"))
    assert time.perf_counter() - t0 < 1.0 and fake.calls == 2


@pytest.mark.parametrize("limit", [1, 4, 16])
async def test_concurrency_limit_respected(make_client, limit):
    fake = FakeBackend("echo", latency_s=0.01)
    client = make_client(fake, concurrency=limit, cache_mode="off", cache=None)
    out = await client.map([req(str(i)) for i in range(64)])
    assert len(out) == 64 and fake.max_in_flight == limit
    # direct complete() calls are bounded too
    fake.max_in_flight = 0
    await asyncio.gather(*(client.complete(req(f"d{i}")) for i in range(40)))
    assert fake.max_in_flight == limit


async def test_backend_max_concurrency_caps_client(make_client):
    fake = FakeBackend("echo", latency_s=0.005, max_concurrency=1)
    client = make_client(fake, concurrency=16)
    assert client.concurrency == 1
    await client.map([req(str(i)) for i in range(10)])
    assert fake.max_in_flight == 1


async def test_malformed_json_counted_per_prompt_type(make_client):
    fake = FakeBackend("malformed")
    client = make_client(fake)
    out = await client.map([req(str(i), json_schema=SCHEMA, prompt_type="pairwise_eval") for i in range(3)]
                           + [req("plain", prompt_type="other")])
    assert all(isinstance(r, Response) and r.parsed is None for r in out[:3])
    stats = {row["prompt_type"]: row for row in client.accounting.to_dict()["rows"]}
    assert stats["pairwise_eval"]["parse_failures"] == 3 and stats["other"]["parse_failures"] == 0
    # a parse failure is not re-counted when validated again
    assert client.parse(out[0], Verdict) is None
    assert client.accounting.totals().unparseable == 3
    # cached replay in a later run counts again (per-run report)
    out2 = await client.map([req("0", json_schema=SCHEMA, prompt_type="pairwise_eval")])
    assert out2[0].cached and client.accounting.totals().unparseable == 4


async def test_fenced_json_is_parsed(make_client):
    fake = FakeBackend("fenced-json")
    client = make_client(fake)
    r = await client.complete(req("x", json_schema=SCHEMA))
    assert r.text.startswith("Sure!") and r.parsed == {"verdict": "A"}
    assert client.parse(r, Verdict) == Verdict(verdict="A")
    assert client.accounting.totals().unparseable == 0
    hit = await client.complete(req("x", json_schema=SCHEMA))
    assert hit.cached and hit.parsed == {"verdict": "A"}


async def test_map_structured(make_client):
    table = {"good": {"verdict": "B"}, "bad": "no idea", "wrong": {"other": 1}}
    fake = FakeBackend("json", table=table)
    client = make_client(fake)
    out = await client.map_structured([req("good"), req("bad"), req("wrong")], Verdict)
    assert out[0] == Verdict(verdict="B")
    assert isinstance(out[1], ParseError) and isinstance(out[2], ParseError)
    assert client.accounting.totals().unparseable == 2


async def test_accounting_totals_and_cost(make_client):
    fake = FakeBackend("echo", model_id="gpt-4o-mini")
    prices = Prices({"fake:gpt-4o-mini": (1.0, 2.0)})
    client = make_client(fake, accounting=Accounting(prices))
    reqs = [req("one two three", prompt_type="atomic_facts") for _ in range(1)] + \
           [req(f"w{i} x", prompt_type="pairwise_eval") for i in range(4)]
    await client.map(reqs)
    await client.map(reqs)  # all cached
    d = client.accounting.to_dict()
    rows = {r["prompt_type"]: r for r in d["rows"]}
    assert rows["atomic_facts"]["requests"] == 2 and rows["atomic_facts"]["cached"] == 1
    assert rows["atomic_facts"]["prompt_tokens"] == 3 and rows["atomic_facts"]["completion_tokens"] == 3
    assert rows["pairwise_eval"]["requests"] == 8 and rows["pairwise_eval"]["cached"] == 4
    assert rows["pairwise_eval"]["prompt_tokens"] == 8
    assert d["total"]["requests"] == 10 and d["total"]["cached"] == 5
    assert d["total"]["cost_usd"] == pytest.approx((11 * 1.0 + 11 * 2.0) / 1e6)
    from rich.console import Console

    console = Console(record=True, width=200)
    console.print(client.summary_table())
    assert "pairwise_eval" in console.export_text()


def test_unknown_price_is_na_not_zero():
    p = Prices()
    assert p.cost("openai-compat", "mystery-model", 100, 100) is None
    assert p.cost("llamacpp", "qwen", 10**6, 10**6) == 0.0
    assert p.cost("openai", "gpt-4o-mini-2024-07-18", 10**6, 10**6) == pytest.approx(0.75)


async def test_rate_limiter_rpm(make_client):
    fake = FakeBackend("echo")
    client = make_client(fake, rpm=5, concurrency=8)
    client._loop_state()[1].window_s = 0.3  # a 0.3 s window keeps the test fast
    t0 = time.perf_counter()
    await client.map([req(str(i)) for i in range(10)])
    assert time.perf_counter() - t0 >= 0.29


def test_run_all_sync_and_inside_loop(make_client):
    client = make_client(FakeBackend("echo"))
    assert [r.text for r in client.run_all([req("a"), req("b")])] == ["a", "b"]

    async def inner():
        return client.run_all([req("c")])

    assert asyncio.run(inner())[0].text == "c"


async def test_logprobs_passthrough_and_yes_probability(make_client):
    client = make_client(FakeBackend("yes"))
    r = await client.complete(req("Is it?", logprobs=True, top_logprobs=5, max_tokens=1))
    assert r.text == "Yes"
    assert yes_probability_from_response(r) == pytest.approx(0.8)
    cached = await client.complete(req("Is it?", logprobs=True, top_logprobs=5, max_tokens=1))
    assert cached.cached and yes_probability_from_response(cached) == pytest.approx(0.8)


async def test_progress_bar_renders(make_client):
    from rich.console import Console

    console = Console(record=True, width=160, force_terminal=False)
    client = make_client(FakeBackend("echo"), progress=True, console=console)
    await client.map([req(str(i)) for i in range(5)], desc="facts")
    text = console.export_text()
    assert "facts" in text and "5/5" in text and "req/s" in text


async def test_transient_error_classes():
    assert issubclass(RateLimitError, TransientError)
    assert TransientError.retryable and not BackendError.retryable


async def test_fake_reply_latency_and_text(make_client):
    fake = FakeBackend("echo", table={"q": FakeReply(text="custom", latency_s=0.01, finish_reason="length")})
    r = await make_client(fake).complete(req("q"))
    assert r.text == "custom" and r.finish_reason == "length" and r.latency_s >= 0.01
