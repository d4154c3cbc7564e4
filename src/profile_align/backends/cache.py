"""SQLite response cache and call log.

* key = SHA-256 of the canonical JSON of everything that changes the output: backend name, exact model
  identity (``Backend.cache_id``), messages, sampling parameters, JSON schema, logprob settings and
  ``prompt_version``. Not the ``prompt_type`` label, timeouts, concurrency or retry settings.
* every completed response is committed before the caller sees it, so a killed run resumes paying nothing
  twice; failures are stored too (status ``failed``) and are retried on the next run.
* modes: ``use`` (read + write), ``refresh`` (ignore stored answers, overwrite them), ``off`` (no cache).
* the ``log`` table is the call record (``records.CallRecord``): one row per ``Client`` call, answered by
  the backend or served from this cache, ok / failed / unparseable / refused, with its reply text; the
  prompt is in ``responses.request`` (join on ``key``). Files written before the record existed are
  migrated when opened (missing columns added; their rows read as invocation ``legacy``).

One connection guarded by a lock: safe for many asyncio tasks (and worker threads) in one process; WAL lets
other processes read while a run writes. ``aput`` hands writes to one writer thread that commits everything
queued in a single transaction (group commit) and wakes each waiting task only after its commit.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Literal

from .base import Request, RequestFailed, Response, is_scoring_request
from .records import CallRecord, Records, input_key

__all__ = ["Cache", "CacheMode", "cache_key", "cache_dir", "default_cache_path", "LEGACY_INVOCATION"]

LEGACY_INVOCATION = "legacy"
"""Invocation id of log rows written before call records had one."""

# columns the call record added to the log table (name, SQL type), migrated into older files on open
_RECORD_COLUMNS = (("call_id", "TEXT"), ("invocation", "TEXT"), ("model_string", "TEXT"), ("stage", "TEXT"),
                   ("input_key", "TEXT"), ("cached", "INTEGER"), ("cost_usd", "REAL"), ("finish_reason", "TEXT"),
                   ("scoring", "INTEGER"), ("empty", "INTEGER"))

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


def _resolve(fut: asyncio.Future[None], error: BaseException | None) -> None:
    if fut.done():
        return
    if error is None:
        fut.set_result(None)
    else:
        fut.set_exception(error)


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _migrate(conn: sqlite3.Connection) -> None:
    """Add the call-record columns to a log table written by an older version."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(log)")}
    for name, sql_type in _RECORD_COLUMNS:
        if name not in have:
            conn.execute(f"ALTER TABLE log ADD COLUMN {name} {sql_type}")
    conn.execute("CREATE INDEX IF NOT EXISTS log_invocation ON log(invocation)")
    conn.execute("CREATE INDEX IF NOT EXISTS log_call_id ON log(call_id)")


def _record(row: dict[str, Any]) -> CallRecord:
    """A log row as a :class:`CallRecord` (rows of migrated files get their missing fields derived)."""
    req: Any = None
    if row.get("request") and (row.get("scoring") is None or row.get("input_key") is None):
        try:
            req = json.loads(row["request"])
        except ValueError:
            req = None
    finish = row.get("finish_reason")
    if finish is None and row.get("response"):
        try:
            finish = json.loads(row["response"]).get("finish_reason")
        except (ValueError, AttributeError):
            finish = None
    status = row.get("status") or "ok"
    return CallRecord(
        call_id=row.get("call_id") or f"log-{row['id']}", invocation=row.get("invocation") or LEGACY_INVOCATION,
        ts=float(row.get("ts") or 0.0), model=row.get("model_string") or f"{row['backend']}:{row['model']}",
        model_id=row.get("model") or "", backend=row.get("backend") or "", prompt_type=row.get("prompt_type") or "default",
        stage=row.get("stage") or "", key=row.get("key") or "",
        input_key=row.get("input_key") or (input_key(req.get("messages", [])) if isinstance(req, dict) else ""),
        status=status if status in ("ok", "failed", "unparseable", "refused") else "failed",
        prompt_tokens=int(row.get("prompt_tokens") or 0), completion_tokens=int(row.get("completion_tokens") or 0),
        cost_usd=row.get("cost_usd") if row.get("call_id") else None, latency_s=float(row.get("latency_s") or 0.0),
        cached=bool(row.get("cached") or 0), finish_reason=finish or "",
        scoring=bool(row["scoring"]) if row.get("scoring") is not None else (
            is_scoring_request(req) if isinstance(req, dict) else False),
        empty=bool(row["empty"]) if row.get("empty") is not None else (
            status == "ok" and not (row.get("text") or "").strip()),
        error=row.get("error") or "")


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
        self._wlock = threading.Lock()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self._rconn: sqlite3.Connection | None = None
        self._rlock = threading.Lock()
        if mode != "off":
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30.0, isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes (kill -9)
                conn.execute("PRAGMA busy_timeout=30000")
                conn.executescript(_SCHEMA)
                _migrate(conn)
            except sqlite3.DatabaseError as exc:
                conn.close()
                raise ValueError(f"{self.path}: not a profile-align cache ({exc})") from exc
            self._conn = conn
            # a second connection for lookups: under WAL, reads never wait for the writer's transaction
            self._rconn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30.0,
                                          isolation_level=None)

    @property
    def enabled(self) -> bool:
        return self._conn is not None

    # ------------------------------------------------------------------ read
    def get(self, key: str) -> Response | None:
        """A stored successful response (``cached=True``), or None (miss, failure, refresh/off mode)."""
        if self.mode != "use" or self._conn is None:
            return None
        with self._rlock:
            assert self._rconn is not None
            row = self._rconn.execute(
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
    _UPSERT_OK = (
        "INSERT INTO responses (key, status, backend, model, prompt_type, prompt_version, request,"
        " response, error, attempts, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
        " ON CONFLICT(key) DO UPDATE SET status=excluded.status, response=excluded.response,"
        " error=NULL, attempts=responses.attempts+excluded.attempts, updated_at=excluded.updated_at,"
        " prompt_type=excluded.prompt_type"
    )
    _UPSERT_FAILED = (
        "INSERT INTO responses (key, status, backend, model, prompt_type, prompt_version, request,"
        " response, error, attempts, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
        " ON CONFLICT(key) DO UPDATE SET error=excluded.error,"
        " attempts=responses.attempts+excluded.attempts, updated_at=excluded.updated_at"
        " WHERE responses.status != 'ok'"
    )
    _INSERT_LOG = (
        "INSERT INTO log (ts, key, backend, model, prompt_type, status, latency_s, prompt_tokens,"
        " completion_tokens, text, error, call_id, invocation, model_string, stage, input_key, cached, cost_usd,"
        " finish_reason, scoring, empty) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
    )

    @staticmethod
    def _log_row(record: CallRecord | None, text: str | None) -> list[tuple]:
        if record is None:
            return []
        r = record
        return [(Cache._INSERT_LOG, (r.ts, r.key, r.backend, r.model_id, r.prompt_type, r.status, r.latency_s,
                                     r.prompt_tokens, r.completion_tokens, text, r.error or None, r.call_id,
                                     r.invocation, r.model, r.stage, r.input_key, int(r.cached), r.cost_usd,
                                     r.finish_reason, int(r.scoring), int(r.empty)))]

    @staticmethod
    def _ok_rows(key: str, payload: str, request: Request, response: Response, attempts: int,
                 record: CallRecord | None) -> list[tuple]:
        now = time.time()
        stored = response.model_dump_json(exclude={"cached"})
        return [
            (Cache._UPSERT_OK, (key, "ok", response.backend, response.model, request.prompt_type,
                                request.prompt_version, payload, stored, None, attempts, now, now)),
            *Cache._log_row(record, response.text),
        ]

    @staticmethod
    def _failed_rows(key: str, payload: str, request: Request, failure: RequestFailed,
                     backend: str, model: str, record: CallRecord | None) -> list[tuple]:
        now = time.time()
        err = f"{failure.error_type}: {failure.message}"
        return [
            (Cache._UPSERT_FAILED, (key, "failed", backend, model, request.prompt_type, request.prompt_version,
                                    payload, None, err, failure.attempts, now, now)),
            *Cache._log_row(record, None),
        ]

    def _write(self, statements: list[tuple]) -> None:
        """One transaction, committed before returning (durable across a process kill)."""
        assert self._conn is not None
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                grouped: dict[str, list[tuple]] = {}
                for sql, params in statements:  # executemany per statement; order kept within each
                    grouped.setdefault(sql, []).append(params)
                for sql, rows in grouped.items():
                    self._conn.executemany(sql, rows)
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def put(self, key: str, payload: str, request: Request, response: Response, attempts: int = 1,
            record: CallRecord | None = None) -> None:
        if self._conn is not None:
            self._write(self._ok_rows(key, payload, request, response, attempts, record))

    def put_failure(self, key: str, payload: str, request: Request, failure: RequestFailed,
                    backend: str, model: str, record: CallRecord | None = None) -> None:
        """Record a failure; an existing successful answer is never overwritten by one."""
        if self._conn is not None:
            self._write(self._failed_rows(key, payload, request, failure, backend, model, record))

    async def aput(self, key: str, payload: str, request: Request, response: Response, attempts: int = 1,
                   record: CallRecord | None = None) -> None:
        """Like :meth:`put`, but off the event loop with group commit: returns once committed."""
        if self._conn is not None:
            await self._writer_submit(self._ok_rows(key, payload, request, response, attempts, record))

    async def aput_failure(self, key: str, payload: str, request: Request, failure: RequestFailed,
                           backend: str, model: str, record: CallRecord | None = None) -> None:
        if self._conn is not None:
            await self._writer_submit(self._failed_rows(key, payload, request, failure, backend, model, record))

    async def aput_record(self, record: CallRecord, text: str | None = None) -> None:
        """The record of a call answered without the backend (a cache hit, a shared in-flight answer)."""
        if self._conn is not None:
            await self._writer_submit(self._log_row(record, text))

    def set_call_status(self, call_id: str, status: str) -> None:
        """Change a record's status (``Client.mark_unparseable``); committed before returning."""
        if self._conn is not None:
            self._write([("UPDATE log SET status = ? WHERE call_id = ?", (status, call_id))])

    def records(self, invocations: Iterable[str] | None = None) -> Records:
        """The call records in this file (all, or those of the given invocation ids), oldest first."""
        if self._conn is None:
            return Records()
        sql = "SELECT l.*, r.request, r.response FROM log l LEFT JOIN responses r ON r.key = l.key"
        params: tuple = ()
        if invocations is not None:
            invs = list(invocations)
            if not invs:
                return Records()
            legacy = LEGACY_INVOCATION in invs
            sql += (f" WHERE l.invocation IN ({','.join('?' * len(invs))})"
                    + (" OR l.invocation IS NULL" if legacy else ""))
            params = tuple(invs)
        with self._lock:
            cur = self._conn.execute(sql + " ORDER BY l.id", params)
            cols = [c[0] for c in cur.description]
            rows = cur.fetchall()
        return Records(_record(dict(zip(cols, row))) for row in rows)

    async def _writer_submit(self, statements: list[tuple]) -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        with self._wlock:
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(target=self._writer_loop, name="profile-align-cache", daemon=True)
                self._writer.start()
        self._queue.put((statements, loop, fut))
        await fut

    def _writer_loop(self) -> None:
        """Drain everything queued, write it in one transaction, then wake the waiting tasks."""
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            while True:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                batch.append(nxt)
            error: BaseException | None = None
            try:
                self._write([st for statements, _, _ in batch for st in statements])
            except BaseException as exc:  # report to every waiter
                error = exc
            for _, loop, fut in batch:
                try:
                    loop.call_soon_threadsafe(_resolve, fut, error)
                except RuntimeError:  # the loop is closed
                    pass

    def close(self) -> None:
        with self._wlock:
            writer, self._writer = self._writer, None
        if writer is not None and writer.is_alive():
            self._queue.put(None)
            writer.join()
            self._queue = queue.SimpleQueue()
        with self._lock, self._rlock:
            for conn in (self._rconn, self._conn):
                if conn is not None:
                    conn.close()
            self._conn = self._rconn = None

    def __enter__(self) -> Cache:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
