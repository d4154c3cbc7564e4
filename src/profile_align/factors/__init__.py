"""Factor extraction: rule-based factors here; LLM-based and UniEval factors build on the backends."""

from .table import FactorTable, compute_factors

__all__ = ["FactorTable", "compute_factors"]
