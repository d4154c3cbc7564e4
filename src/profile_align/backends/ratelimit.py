"""Sliding-window requests-per-minute / tokens-per-minute limiter for asyncio."""

from __future__ import annotations

import asyncio
import time
from collections import deque

__all__ = ["RateLimiter"]


class RateLimiter:
    """Waits until one more request of ``tokens`` estimated tokens fits in the last ``window_s`` seconds."""

    def __init__(self, rpm: float | None = None, tpm: float | None = None, window_s: float = 60.0):
        self.rpm = rpm
        self.tpm = tpm
        self.window_s = window_s
        self._events: deque[tuple[float, int]] = deque()
        self._tokens = 0
        self._lock = asyncio.Lock()

    @property
    def active(self) -> bool:
        return bool(self.rpm or self.tpm)

    def _expire(self, now: float) -> None:
        while self._events and now - self._events[0][0] >= self.window_s:
            self._tokens -= self._events.popleft()[1]

    def _wait_time(self, now: float, tokens: int) -> float:
        waits = [0.0]
        if self.rpm and len(self._events) >= self.rpm:
            idx = int(len(self._events) - self.rpm)
            waits.append(self._events[idx][0] + self.window_s - now)
        if self.tpm and self._events and self._tokens + tokens > self.tpm:
            excess, t_free = self._tokens + tokens - self.tpm, self._events[-1][0]
            for t, n in self._events:
                excess -= n
                if excess <= 0:
                    t_free = t
                    break
            waits.append(t_free + self.window_s - now)
        return max(waits)

    async def acquire(self, tokens: int = 0) -> None:
        if not self.active:
            return
        async with self._lock:
            while True:
                now = time.monotonic()
                self._expire(now)
                wait = self._wait_time(now, tokens)
                if wait <= 0:
                    self._events.append((now, tokens))
                    self._tokens += tokens
                    return
                await asyncio.sleep(wait)
