"""The one record of every model call: :class:`CallRecord`.

Every ``Client`` call — answered by the backend, shared with an identical request in flight, or served
from the cache — writes exactly one record; a failure writes one too. The record lives in the cache's
SQLite ``log`` table (see ``cache.py``; older files are migrated when opened) and, for the running
invocation, in memory (:class:`CallLog`), so it exists even with the cache off. A caller that cannot use
an answer marks its record ``unparseable`` with ``Client.mark_unparseable`` (the only way to do so).

Everything that counts calls, tokens or dollars is derived from these records (:class:`Records`):
usage.json, the manifest's ``usage`` and ``failures``, the failure-rate check, the terminal summary,
diagnostics and the report. Nothing else keeps a counter.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["CallRecord", "CallLog", "Records", "STATUSES", "Status", "Tally", "input_key", "new_invocation_id",
           "usage_summary", "usage_counts"]

Status = Literal["ok", "failed", "unparseable", "refused"]
STATUSES: tuple[str, ...] = ("ok", "failed", "unparseable", "refused")
BAD_STATUSES = frozenset({"failed", "unparseable", "refused"})


def new_invocation_id() -> str:
    """A fresh id for one ``run`` / command invocation (sortable by time)."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:8]


def input_key(messages: Sequence[dict[str, str]] | str) -> str:
    """16-hex SHA-256 of a prompt (chat messages or a string): what the model was asked, whatever the
    sampling settings (the ``input_key`` of a record and of the answers table)."""
    if not isinstance(messages, str):
        messages = json.dumps([[m.get("role", ""), m.get("content", "")] for m in messages],
                              ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(messages.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class CallRecord:
    """One model call. ``model`` is the model string the caller used (``local``, ``openai:gpt-4o-mini``),
    ``model_id`` the backend's exact model; ``key`` the request hash (the cache key); ``input_key`` the
    hash of the messages. Tokens and cost are those of the answer, also when it came from the cache
    (``cached``): then they were paid by an earlier call, not this one."""

    call_id: str
    invocation: str
    ts: float
    model: str
    model_id: str
    backend: str
    prompt_type: str
    stage: str
    input_key: str
    key: str
    status: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = 0.0
    latency_s: float = 0.0
    cached: bool = False
    finish_reason: str = ""
    scoring: bool = False
    """A one-token logprob request: cut off by max_tokens on purpose (never a truncation)."""
    empty: bool = False
    error: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"call status must be one of {STATUSES}, not {self.status!r}")

    @property
    def bad(self) -> bool:
        """Failed, unparseable or refused."""
        return self.status in BAD_STATUSES

    @property
    def truncated(self) -> bool:
        return self.status != "failed" and self.finish_reason.lower() == "length" and not self.scoring

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(CallRecord))


@dataclass(frozen=True)
class Tally:
    """Counts over a set of records. ``prompt_tokens``/``completion_tokens``/``cost_usd`` are what was
    *paid* (new calls); ``cached_*`` what the cached answers had cost when they were first paid."""

    requests: int = 0
    cached: int = 0
    failed: int = 0
    unparseable: int = 0
    refused: int = 0
    truncated: int = 0
    empty: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = 0.0
    cached_prompt_tokens: int = 0
    cached_completion_tokens: int = 0
    cached_cost_usd: float | None = 0.0
    latency_s: float = 0.0
    wall_s: float = 0.0

    @property
    def new_requests(self) -> int:
        return self.requests - self.cached

    @property
    def n_bad(self) -> int:
        """Failed + unparseable + refused."""
        return self.failed + self.unparseable + self.refused

    @property
    def failure_rate(self) -> float:
        return self.n_bad / self.requests if self.requests else 0.0

    @classmethod
    def of(cls, records: Iterable[CallRecord]) -> Tally:
        n = cached = failed = unparseable = refused = truncated = empty = pt = ct = cpt = cct = 0
        cost: float | None = 0.0
        ccost: float | None = 0.0
        lat = 0.0
        t0 = t1 = None
        for r in records:
            n += 1
            failed += r.status == "failed"
            unparseable += r.status == "unparseable"
            refused += r.status == "refused"
            truncated += r.truncated
            empty += r.empty and r.status != "failed" and not r.scoring
            t0 = r.ts if t0 is None else min(t0, r.ts)
            t1 = r.ts if t1 is None else max(t1, r.ts)
            if r.cached:
                cached += 1
                cpt += r.prompt_tokens
                cct += r.completion_tokens
                ccost = None if ccost is None or r.cost_usd is None else ccost + r.cost_usd
            elif r.status != "failed":
                pt += r.prompt_tokens
                ct += r.completion_tokens
                lat += r.latency_s
                cost = None if cost is None or r.cost_usd is None else cost + r.cost_usd
        return cls(n, cached, failed, unparseable, refused, truncated, empty, pt, ct, cost, cpt, cct, ccost,
                   round(lat, 6), round((t1 - t0) if t0 is not None and t1 is not None else 0.0, 3))

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["new_requests"] = self.new_requests
        return d


class Records(Sequence[CallRecord]):
    """A read-only view over call records: filter, group, tally, ``to_frame()``."""

    def __init__(self, records: Iterable[CallRecord] = ()) -> None:
        self._rows: tuple[CallRecord, ...] = tuple(records)

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, i: Any) -> Any:
        return self._rows[i]

    def __iter__(self) -> Iterator[CallRecord]:
        return iter(self._rows)

    def where(self, pred: Callable[[CallRecord], bool] | None = None, *, invocation: str | Iterable[str] | None = None,
              prompt_type: str | None = None, model: str | None = None, stage: str | None = None,
              call_ids: Iterable[str] | None = None) -> Records:
        """The records matching every given condition (``invocation`` may be one id or several)."""
        invs = None if invocation is None else ({invocation} if isinstance(invocation, str) else set(invocation))
        ids = None if call_ids is None else set(call_ids)
        return Records(r for r in self._rows
                       if (invs is None or r.invocation in invs) and (prompt_type is None or r.prompt_type == prompt_type)
                       and (model is None or r.model == model) and (stage is None or r.stage == stage)
                       and (ids is None or r.call_id in ids) and (pred is None or pred(r)))

    def invocations(self) -> list[str]:
        """Invocation ids in the order of their first record."""
        return list(dict.fromkeys(r.invocation for r in sorted(self._rows, key=lambda r: r.ts)))

    def tally(self) -> Tally:
        return Tally.of(self._rows)

    def group(self, *by: str) -> dict[tuple[str, ...], Records]:
        """Records grouped by fields (e.g. ``"stage", "prompt_type"``), keys sorted."""
        bad = [b for b in by if b not in FIELDS]
        if bad:
            raise ValueError(f"cannot group call records by {bad}; fields: {FIELDS}")
        out: dict[tuple[str, ...], list[CallRecord]] = {}
        for r in self._rows:
            out.setdefault(tuple(str(getattr(r, b)) for b in by), []).append(r)
        return {k: Records(v) for k, v in sorted(out.items())}

    def tallies(self, *by: str) -> dict[tuple[str, ...], Tally]:
        return {k: v.tally() for k, v in self.group(*by).items()}

    def failure_counts(self) -> dict[str, dict[str, int]]:
        """``{"<stage>/<prompt_type>": {"requests", "failed", "parse_failed"}}`` (manifest.json), with
        ``refused`` where any call was refused."""
        return {"/".join(k): {"requests": t.requests, "failed": t.failed, "parse_failed": t.unparseable}
                | ({"refused": t.refused} if t.refused else {})
                for k, t in self.tallies("stage", "prompt_type").items()}

    def over_threshold(self, max_failure_rate: float) -> dict[str, float]:
        """``"<stage>/<prompt_type>"`` whose (failed + unparseable + refused) / requests exceeds the limit."""
        return {"/".join(k): t.failure_rate for k, t in self.tallies("stage", "prompt_type").items()
                if t.requests and t.failure_rate > max_failure_rate}

    def to_frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame([r.to_dict() for r in self._rows], columns=list(FIELDS))


class CallLog:
    """The records of one invocation, in memory, optionally persisted to a cache's ``log`` table.

    Shared by every client of a run (one invocation id). Thread-safe.
    """

    def __init__(self, invocation: str | None = None) -> None:
        self.invocation = invocation or new_invocation_id()
        self._records: dict[str, CallRecord] = {}
        self._store_of: dict[str, Any] = {}
        self._lock = threading.Lock()

    def new_id(self) -> str:
        return uuid.uuid4().hex

    def add(self, record: CallRecord, store: Any = None) -> None:
        """Keep a record (already written to ``store``, a Cache, if any)."""
        with self._lock:
            self._records[record.call_id] = record
            if store is not None:
                self._store_of[record.call_id] = store

    def mark(self, call_id: str, status: str) -> bool:
        """Set a record's status: ``unparseable`` or ``refused`` (from ok), or back to ``ok`` from
        ``unparseable`` (the caller read an answer the client's JSON parse could not). A failed call stays
        failed. True if the status changed."""
        if status not in STATUSES or status == "failed":
            raise ValueError(f"a call can be marked ok, unparseable or refused, not {status!r}")
        with self._lock:
            rec = self._records.get(call_id)
            if rec is None or rec.status == status or rec.status == "failed" or (
                    status == "ok" and rec.status != "unparseable"):
                return False
            self._records[call_id] = dataclasses.replace(rec, status=status)
            store = self._store_of.get(call_id)
        if store is not None:
            store.set_call_status(call_id, status)
        return True

    def get(self, call_id: str) -> CallRecord | None:
        return self._records.get(call_id)

    def records(self) -> Records:
        with self._lock:
            return Records(sorted(self._records.values(), key=lambda r: r.ts))


def usage_counts(t: Tally) -> dict[str, Any]:
    """A tally under the names of usage.json and the manifest (``failures`` = failed calls,
    ``parse_failures`` = unparseable answers; tokens, cost and latency are what new calls paid)."""
    return {"requests": t.requests, "cached": t.cached, "new_requests": t.new_requests, "failures": t.failed,
            "parse_failures": t.unparseable, "refused": t.refused, "prompt_tokens": t.prompt_tokens,
            "completion_tokens": t.completion_tokens, "latency_s": t.latency_s, "cost_usd": t.cost_usd,
            "wall_s": t.wall_s, "cached_prompt_tokens": t.cached_prompt_tokens,
            "cached_completion_tokens": t.cached_completion_tokens, "cached_cost_usd": t.cached_cost_usd}


def usage_summary(current: Records, earlier: Records | None = None, *, invocation: str = "",
                  n_earlier: int = 0) -> dict[str, Any]:
    """The manifest's ``usage``: this invocation's calls (``requests``, ``cached``, ``new_requests``,
    ``failures``, ``parse_failures``, ``refused``; ``prompt_tokens``/``completion_tokens``/``cost_usd`` paid
    by its new calls), what came ``from_cache``, what ``earlier`` invocations of the same run paid, and the
    ``cumulative`` total paid over all of them (the money a resumed run spent, not only its last part)."""
    t = current.tally()
    e = (earlier if earlier is not None else Records()).tally()

    def add(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else a + b

    return {
        "invocation": invocation, "requests": t.requests, "cached": t.cached, "new_requests": t.new_requests,
        "failures": t.failed, "parse_failures": t.unparseable, "refused": t.refused,
        "prompt_tokens": t.prompt_tokens, "completion_tokens": t.completion_tokens, "cost_usd": t.cost_usd,
        "wall_s": t.wall_s,
        "from_cache": {"requests": t.cached, "prompt_tokens": t.cached_prompt_tokens,
                       "completion_tokens": t.cached_completion_tokens, "cost_usd": t.cached_cost_usd},
        "earlier": {"invocations": n_earlier, "requests": e.new_requests, "prompt_tokens": e.prompt_tokens,
                    "completion_tokens": e.completion_tokens, "cost_usd": e.cost_usd},
        "cumulative": {"invocations": n_earlier + 1, "requests": e.new_requests + t.new_requests,
                       "prompt_tokens": e.prompt_tokens + t.prompt_tokens,
                       "completion_tokens": e.completion_tokens + t.completion_tokens,
                       "cost_usd": add(e.cost_usd, t.cost_usd)},
    }
