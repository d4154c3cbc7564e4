from __future__ import annotations

import pytest

from profile_align.backends import Cache, Client, Request
from profile_align.backends.fake import FakeBackend


@pytest.fixture
def cache(tmp_path):
    c = Cache(tmp_path / "cache.sqlite3")
    yield c
    c.close()


@pytest.fixture
def make_client(cache):
    def make(backend: FakeBackend | None = None, **kw) -> Client:
        kw.setdefault("progress", False)
        kw.setdefault("backoff_initial_s", 0.001)
        kw.setdefault("backoff_max_s", 0.01)
        return Client(backend or FakeBackend("echo"), cache=kw.pop("cache", cache), **kw)

    return make


def req(prompt: str, **kw) -> Request:
    return Request.from_prompt(prompt, **kw)
