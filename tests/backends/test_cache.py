from __future__ import annotations

import asyncio

import pytest

from profile_align.backends import Cache, Client, Request, RequestFailed, cache_key
from profile_align.backends.fake import FakeBackend

from .conftest import req


def key(request: Request, backend: str = "fake", model: str = "m") -> str:
    return cache_key(backend, model, request)[0]


def test_key_ignores_label_but_not_output_fields():
    base = req("hello", prompt_type="atomic_facts", prompt_version="1")
    assert key(base) == key(base.model_copy(update={"prompt_type": "pairwise_eval"}))
    assert key(base) == key(req("hello", prompt_type="atomic_facts", prompt_version="1"))
    changed = [
        base.model_copy(update={"prompt_version": "2"}),
        base.model_copy(update={"temperature": 0.0}),
        base.model_copy(update={"top_p": 1.0}),
        base.model_copy(update={"max_tokens": 10}),
        base.model_copy(update={"seed": 1}),
        base.model_copy(update={"stop": ["\n"]}),
        base.model_copy(update={"json_schema": {"type": "object"}}),
        base.model_copy(update={"logprobs": True, "top_logprobs": 5}),
        req("hello!", prompt_type="atomic_facts", prompt_version="1"),
    ]
    keys = {key(r) for r in changed}
    assert len(keys) == len(changed) and key(base) not in keys
    assert key(base, backend="other") != key(base)
    assert key(base, model="other") != key(base)
    # int vs float spelling of the same temperature is the same request
    assert key(base.model_copy(update={"temperature": 1})) == key(base.model_copy(update={"temperature": 1.0}))


async def test_hit_and_miss(make_client):
    fake = FakeBackend("echo")
    client = make_client(fake)
    r1 = await client.complete(req("a"))
    r2 = await client.complete(req("a", prompt_type="other_label"))
    r3 = await client.complete(req("b"))
    assert fake.calls == 2
    assert (r1.cached, r2.cached, r3.cached) == (False, True, False)
    assert r2.text == r1.text == "a" and r2.prompt_type == "other_label"
    await client.complete(req("a", prompt_version="2"))
    await client.complete(req("a", temperature=0.0))
    assert fake.calls == 4


async def test_cache_persists_across_clients(tmp_path):
    path = tmp_path / "c.sqlite3"
    fake1, fake2 = FakeBackend("echo"), FakeBackend("echo")
    async with Client(fake1, cache=path, progress=False) as c1:
        await c1.map([req(str(i)) for i in range(20)])
    async with Client(fake2, cache=path, progress=False) as c2:
        out = await c2.map([req(str(i)) for i in range(25)])
    assert fake1.calls == 20 and fake2.calls == 5
    assert [r.text for r in out] == [str(i) for i in range(25)]
    assert sum(r.cached for r in out) == 20


async def test_refresh_and_off_modes(tmp_path):
    path = tmp_path / "c.sqlite3"
    fake = FakeBackend("echo")
    async with Client(fake, cache=path, progress=False) as c:
        await c.complete(req("a"))
    async with Client(fake, cache=path, cache_mode="refresh", progress=False) as c:
        assert not (await c.complete(req("a"))).cached
    assert fake.calls == 2
    async with Client(fake, cache=path, cache_mode="off", progress=False) as c:
        assert not (await c.complete(req("a"))).cached
        assert not c.cache.enabled
    assert fake.calls == 3
    with Cache(path) as cache:
        log = list(cache.iter_log())
        assert len(log) == 2 and all(row["status"] == "ok" for row in log)  # off mode writes nothing
        assert '"content":"a"' in log[0]["request"] and log[0]["text"] == "a"


async def test_failures_are_stored_and_retried(tmp_path):
    path = tmp_path / "c.sqlite3"
    bad = FakeBackend("error", model_id="m")
    async with Client(bad, cache=path, progress=False, max_retries=1, backoff_initial_s=0.001) as c:
        with pytest.raises(RequestFailed):
            await c.complete(req("a"))
        k = c.key(req("a"))
        assert c.cache.status(k) == "failed"
    good = FakeBackend("echo", model_id="m")
    async with Client(good, cache=path, progress=False) as c:
        assert (await c.complete(req("a"))).text == "a"
        assert c.cache.status(k) == "ok"
        assert c.cache.counts() == {"ok": 1}
    assert good.calls == 1


async def test_failure_never_overwrites_success(cache):
    r = req("a")
    k, payload = cache_key("fake", "m", r)
    from profile_align.backends import Response

    cache.put(k, payload, r, Response(text="ok", backend="fake", model="m"))
    cache.put_failure(k, payload, r, RequestFailed("boom", error_type="X", attempts=1), "fake", "m")
    assert cache.status(k) == "ok" and cache.get(k).text == "ok"


async def test_concurrent_tasks_share_one_cache(tmp_path):
    path = tmp_path / "c.sqlite3"
    fake = FakeBackend("echo", latency_s=0.001)
    async with Client(fake, cache=path, concurrency=32, progress=False) as c:
        # 200 distinct + 200 duplicates submitted concurrently
        prompts = [str(i % 200) for i in range(400)]
        out = await asyncio.gather(*(c.complete(req(p)) for p in prompts))
        assert [r.text for r in out] == prompts
        assert fake.calls == 200  # identical in-flight requests are shared
        assert c.cache.counts() == {"ok": 200}
