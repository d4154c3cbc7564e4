"""SQLite response cache and call log.

* key = SHA-256 of the canonical JSON of everything that changes the output: backend name, exact model
  identity (``Backend.cache_id``), messages, sampling parameters, JSON schema, logprob settings and
  ``prompt_version``. Not the ``prompt_type`` label, timeouts, concurrency or retry settings.
* every completed response is committed before the caller sees it, so a killed run resumes paying nothing
  twice; failures are stored too (status ``failed``) and are retried on the next run.
* modes: ``use`` (read + write), ``refresh`` (ignore stored answers, overwrite them), ``off`` (no cache).
* the ``log`` table records every backend call (ok or failed) with its reply text, like ``llm logs``;
  the prompt is in ``responses.request`` (join on ``key``).

One connection guarded by a lock: safe for many asyncio tasks (and worker threads) in one process; WAL lets
other processes read while a run writes.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from .base import Request, RequestFailed, Response

__all__ = ["Cache", "CacheMode", "cache_key", "cache_dir", "default_cache_path"]

CacheMode = Literal["use", "refresh", "off"]
_MODES = ("use", "refresh", "off")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key            TEXT PRIMARY KEY,
    status         TEXT NOT NULL,          -- 'ok' | 'failed'
    backend        TEXT NOT NULL,
    model          TEXT NOT NULL,
    prompt_type    TEXT,
    prompt_version TEXT,
    request        TEXT NOT NULL,          -- canonical JSON of the key fields
    response       TEXT,                   -- Response JSON (status ok)
    error          TEXT,                   -- error type and message (status failed)
    attempts       INTEGER NOT NULL DEFAULT 0,
    created_at     REAL NOT NULL,
    updated_at     REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS log (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    ts                REAL NOT NULL,
    key               TEXT NOT NULL,
    backend           TEXT NOT NULL,
    model             TEXT NOT NULL,
    prompt_type       TEXT,
    status            TEXT NOT NULL,
    latency_s         REAL,
    prompt_tokens     INTEGER,
    completion_tokens INTEGER,
    text              TEXT,
    error             TEXT
);
CREATE INDEX IF NOT EXISTS log_key ON log(key);
"""


def cache_dir() -> Path:
    """``$PROFILE_ALIGN_CACHE`` or the platform user cache dir for ``profile-align``."""
    env = os.environ.get("PROFILE_ALIGN_CACHE")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("profile-align"))


def default_cache_path() -> Path:
    return cache_dir() / "llm-cache.sqlite3"


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def cache_key(backend_name: str, backend_cache_id: str, request: Request) -> tuple[str, str]:
    """(hex key, canonical JSON it hashes)."""
    payload = _canonical({"backend": backend_name, "model": backend_cache_id, **request.output_fields()})
    return hashlib.sha256(payload.encode("utf-8")).hexdigest(), payload


class Cache:
    def __init__(self, path: str | Path | None = None, *, mode: CacheMode = "use"):
        if mode not in _MODES:
            raise ValueError(f"cache mode must be one of {_MODES}, not {mode!r}")
        self.mode: CacheMode = mode
        self.path = Path(path) if path is not None else default_cache_path()
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        if mode != "off":
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes (kill -9)
            conn.execute("PRAGMA busy_timeout=30000")
            conn.executescript(_SCHEMA)
            self._conn = conn

    @property
    def enabled(self) -> bool:
        return self._conn is not None

    # ------------------------------------------------------------------ read
    def get(self, key: str) -> Response | None:
        """A stored successful response (``cached=True``), or None (miss, failure, refresh/off mode)."""
        if self.mode != "use" or self._conn is None:
            return None
        with self._lock:
            row = self._conn.execute(
                "SELECT response FROM responses WHERE key = ? AND status = 'ok'", (key,)
            ).fetchone()
        if row is None:
            return None
        resp = Response.model_validate_json(row[0])
        resp.cached = True
        resp.latency_s = 0.0
        return resp

    def status(self, key: str) -> str | None:
        if self._conn is None:
            return None
        with self._lock:
            row = self._conn.execute("SELECT status FROM responses WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def counts(self) -> dict[str, int]:
        if self._conn is None:
            return {}
        with self._lock:
            rows = self._conn.execute("SELECT status, COUNT(*) FROM responses GROUP BY status").fetchall()
        return dict(rows)

    def iter_log(self) -> Iterator[dict[str, Any]]:
        if self._conn is None:
            return iter(())
        with self._lock:
            cur = self._conn.execute(
                "SELECT l.*, r.request FROM log l LEFT JOIN responses r ON r.key = l.key ORDER BY l.id"
            )
            cols = [c[0] for c in cur.description]
            rows = cur.fetchall()
        return (dict(zip(cols, r)) for r in rows)

    # ------------------------------------------------------------------ write
    def put(self, key: str, payload: str, request: Request, response: Response, attempts: int = 1) -> None:
        if self._conn is None:
            return
        now = time.time()
        stored = response.model_dump_json(exclude={"cached"})
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(
                    "INSERT INTO responses (key, status, backend, model, prompt_type, prompt_version, request,"
                    " response, error, attempts, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
                    " ON CONFLICT(key) DO UPDATE SET status=excluded.status, response=excluded.response,"
                    " error=NULL, attempts=responses.attempts+excluded.attempts, updated_at=excluded.updated_at,"
                    " prompt_type=excluded.prompt_type",
                    (key, "ok", response.backend, response.model, request.prompt_type, request.prompt_version,
                     payload, stored, None, attempts, now, now),
                )
                self._log(now, key, response.backend, response.model, request.prompt_type, "ok",
                          response.latency_s, response.usage.prompt_tokens, response.usage.completion_tokens,
                          response.text, None)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def put_failure(self, key: str, payload: str, request: Request, failure: RequestFailed,
                    backend: str, model: str) -> None:
        """Record a failure; an existing successful answer is never overwritten by one."""
        if self._conn is None:
            return
        now = time.time()
        err = f"{failure.error_type}: {failure.message}"
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(
                    "INSERT INTO responses (key, status, backend, model, prompt_type, prompt_version, request,"
                    " response, error, attempts, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
                    " ON CONFLICT(key) DO UPDATE SET error=excluded.error,"
                    " attempts=responses.attempts+excluded.attempts, updated_at=excluded.updated_at"
                    " WHERE responses.status != 'ok'",
                    (key, "failed", backend, model, request.prompt_type, request.prompt_version, payload, None,
                     err, failure.attempts, now, now),
                )
                self._log(now, key, backend, model, request.prompt_type, "failed", None, None, None, None, err)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def _log(self, *values: Any) -> None:
        assert self._conn is not None
        self._conn.execute(
            "INSERT INTO log (ts, key, backend, model, prompt_type, status, latency_s, prompt_tokens,"
            " completion_tokens, text, error) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            values,
        )

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> Cache:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
