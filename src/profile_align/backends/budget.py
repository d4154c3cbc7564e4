"""A spending limit shared by the clients of one invocation: ``--max-requests N`` / ``--max-cost USD``.

:meth:`Budget.take` is called before a request goes to a backend (cache hits are free and never
counted); once the limit is reached it raises :class:`BudgetExceeded`, which stops the run cleanly:
every answer received so far is already committed to the cache, so rerunning (with a higher limit)
resumes where it stopped and pays for nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import BackendError

__all__ = ["Budget", "BudgetExceeded"]


class BudgetExceeded(BackendError):
    """The invocation reached its ``--max-requests`` / ``--max-cost`` limit (not retryable)."""


@dataclass
class Budget:
    max_requests: int | None = None
    max_cost_usd: float | None = None
    requests: int = 0
    cost_usd: float = 0.0

    @property
    def active(self) -> bool:
        return self.max_requests is not None or self.max_cost_usd is not None

    def take(self) -> None:
        """Count one new request, or raise :class:`BudgetExceeded` when the limit is reached."""
        if self.max_requests is not None and self.requests >= self.max_requests:
            raise BudgetExceeded(f"stopped at the limit of {self.max_requests} new LLM requests (--max-requests); "
                                 "the answers so far are cached: rerun with a higher limit to resume")
        if self.max_cost_usd is not None and self.cost_usd >= self.max_cost_usd:
            raise BudgetExceeded(f"stopped at the cost limit ${self.max_cost_usd:g} (--max-cost; spent "
                                 f"${self.cost_usd:.4f}); the answers so far are cached: rerun with a higher limit "
                                 "to resume")
        self.requests += 1

    def spend(self, cost_usd: float | None) -> None:
        if cost_usd:
            self.cost_usd += cost_usd
