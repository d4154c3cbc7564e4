"""The call record: one per Client call (new, shared, cached, failed), marked unparseable through the
Client, migrated into older cache files, and the reader API everything else derives its counts from."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from profile_align.backends import Cache, CallLog, Client, Request, RequestFailed
from profile_align.backends.base import BackendError
from profile_align.backends.cache import LEGACY_INVOCATION
from profile_align.backends.fake import FakeBackend
from profile_align.backends.records import CallRecord, Records, input_key, usage_summary


def req(text: str, **kw) -> Request:
    return Request.from_prompt(text, **kw)


async def test_every_call_writes_exactly_one_record(tmp_path):
    path = tmp_path / "c.sqlite"
    fake = FakeBackend("echo", latency_s=0.01, model_id="m")
    log = CallLog("inv-1")
    async with Client(fake, cache=path, progress=False, calls=log, model_label="mystring") as c:
        a, b = await asyncio.gather(c.complete(req("same"), stage="s1"), c.complete(req("same"), stage="s1"))
        assert fake.calls == 1 and {a.cached, b.cached} == {False, True}  # shared while in flight
        hit = await c.complete(req("same"), stage="s2")  # served from the cache
        assert hit.cached and fake.calls == 1
    recs = log.records()
    assert len(recs) == 3 and len({r.call_id for r in recs}) == 3
    assert [r.cached for r in recs].count(True) == 2 and {r.stage for r in recs} == {"s1", "s2"}
    assert {(r.model, r.model_id, r.backend, r.invocation) for r in recs} == {("mystring", "m", "fake", "inv-1")}
    assert {r.input_key for r in recs} == {input_key(req("same").messages)} and {r.key for r in recs} == {c.key(req("same"))}
    new = next(r for r in recs if not r.cached)
    assert new.prompt_tokens == 1 and new.completion_tokens == 1 and new.status == "ok"
    with Cache(path) as cache:
        stored = cache.records()
    assert [r.call_id for r in stored] == [r.call_id for r in recs]  # the log table is the record
    bad = FakeBackend("json", rule=lambda r: BackendError("HTTP 400"), model_id="m")
    async with Client(bad, cache=path, progress=False, calls=log, max_retries=0) as c:
        with pytest.raises(RequestFailed) as exc:
            await c.complete(req("x"))
    failed = log.get(exc.value.call_id)
    assert failed is not None and failed.status == "failed" and "HTTP 400" in failed.error and len(log.records()) == 4


async def test_mark_unparseable_is_the_one_parse_failure_api(tmp_path):
    path = tmp_path / "c.sqlite"
    fake = FakeBackend("json", rule=lambda r: "not json" if "bad" in r.messages[-1]["content"] else {"a": 1})
    async with Client(fake, cache=path, progress=False) as c:
        schema = {"type": "object"}
        good, unreadable = await c.map([req("good", json_schema=schema), req("bad", json_schema=schema)])
        plain = await c.complete(req("plain"))
        assert c.records().where(call_ids=[unreadable.call_id])[0].status == "unparseable"  # JSON asked, none came
        c.mark_unparseable(plain)
        c.mark_unparseable(plain)  # idempotent
        assert not hasattr(plain, "parse_failure_counted")
    t = c.records().tally()
    assert (t.requests, t.unparseable, t.n_bad) == (3, 2, 2)
    # the caller is the authority: an answer it read although no JSON could be extracted is ok again
    c.mark_usable(unreadable, True)
    assert c.records().tally().unparseable == 1
    with pytest.raises(ValueError, match="not 'failed'"):
        c.calls.mark(good.call_id, "failed")
    c.mark_usable(unreadable, False)
    with Cache(path) as cache:  # persisted: a later reader sees the same statuses
        assert sorted(r.status for r in cache.records()) == ["ok", "unparseable", "unparseable"]


def test_older_cache_files_are_migrated(tmp_path):
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript("""
        CREATE TABLE responses (key TEXT PRIMARY KEY, status TEXT NOT NULL, backend TEXT NOT NULL,
            model TEXT NOT NULL, prompt_type TEXT, prompt_version TEXT, request TEXT NOT NULL, response TEXT,
            error TEXT, attempts INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL, updated_at REAL NOT NULL);
        CREATE TABLE log (id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, key TEXT NOT NULL,
            backend TEXT NOT NULL, model TEXT NOT NULL, prompt_type TEXT, status TEXT NOT NULL, latency_s REAL,
            prompt_tokens INTEGER, completion_tokens INTEGER, text TEXT, error TEXT);
    """)
    conn.execute("INSERT INTO responses VALUES ('k1','ok','llamacpp','qwen','pairwise_eval','1',"
                 "'{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":1024}',"
                 "'{\"text\":\"x\",\"finish_reason\":\"length\"}',NULL,1,1.0,1.0)")
    conn.execute("INSERT INTO log (ts,key,backend,model,prompt_type,status,latency_s,prompt_tokens,"
                 "completion_tokens,text,error) VALUES (1.0,'k1','llamacpp','qwen','pairwise_eval','ok',0.5,7,3,'x',NULL)")
    conn.commit()
    conn.close()
    with Cache(path) as cache:
        (r,) = cache.records()
        assert (r.invocation, r.model, r.model_id, r.prompt_type, r.status) == (
            LEGACY_INVOCATION, "llamacpp:qwen", "qwen", "pairwise_eval", "ok")
        assert (r.prompt_tokens, r.completion_tokens, r.finish_reason, r.truncated) == (7, 3, "length", True)
        assert r.input_key == input_key([{"role": "user", "content": "hi"}]) and r.cost_usd is None
        assert len(cache.records([LEGACY_INVOCATION])) == 1 and len(cache.records(["other"])) == 0
    with Cache(path) as cache:  # opening again is a no-op
        assert len(cache.records()) == 1
    (tmp_path / "junk").write_text("not a database at all, just text" * 100)
    with pytest.raises(ValueError, match="junk: not a profile-align cache"):
        Cache(tmp_path / "junk")


def _rec(i: int, **kw) -> CallRecord:
    base = dict(call_id=f"c{i}", invocation="a", ts=float(i), model="m", model_id="mid", backend="fake",
                prompt_type="p", stage="s", input_key="k", key=f"h{i}", status="ok", prompt_tokens=10,
                completion_tokens=2, cost_usd=0.5)
    return CallRecord(**{**base, **kw})


def test_reader_api_by_hand():
    recs = Records([_rec(0), _rec(1, status="unparseable"), _rec(2, status="failed", prompt_tokens=0,
                    completion_tokens=0, cost_usd=None), _rec(3, cached=True, invocation="b"),
                    _rec(4, prompt_type="q", stage="t", finish_reason="length")])
    t = recs.tally()
    assert (t.requests, t.cached, t.failed, t.unparseable, t.truncated) == (5, 1, 1, 1, 1)
    assert (t.prompt_tokens, t.completion_tokens, t.cost_usd) == (30, 6, 1.5)  # paid: 3 new answers
    assert (t.cached_prompt_tokens, t.cached_cost_usd) == (10, 0.5) and t.wall_s == 4.0
    assert recs.failure_counts() == {"s/p": {"requests": 4, "failed": 1, "parse_failed": 1},
                                     "t/q": {"requests": 1, "failed": 0, "parse_failed": 0}}
    assert recs.over_threshold(0.4) == {"s/p": 0.5} and recs.over_threshold(0.5) == {}
    assert len(recs.where(invocation="b")) == 1 and len(recs.where(invocation=["a", "b"], stage="s")) == 4
    assert list(recs.group("stage")) == [("s",), ("t",)] and recs.invocations() == ["a", "b"]
    frame = recs.to_frame()
    assert len(frame) == 5 and {"call_id", "status", "cached", "cost_usd"} <= set(frame.columns)
    with pytest.raises(ValueError, match="cannot group"):
        recs.group("nope")
    with pytest.raises(ValueError, match="status"):
        _rec(9, status="weird")
    u = usage_summary(recs.where(invocation="b"), recs.where(invocation="a"), invocation="b", n_earlier=1)
    assert u["requests"] == 1 and u["cached"] == 1 and u["new_requests"] == 0 and u["prompt_tokens"] == 0
    assert u["from_cache"] == {"requests": 1, "prompt_tokens": 10, "completion_tokens": 2, "cost_usd": 0.5}
    assert u["earlier"] == {"invocations": 1, "requests": 4, "prompt_tokens": 30, "completion_tokens": 6,
                            "cost_usd": 1.5}
    assert u["cumulative"] == {"invocations": 2, "requests": 4, "prompt_tokens": 30, "completion_tokens": 6,
                               "cost_usd": 1.5}
