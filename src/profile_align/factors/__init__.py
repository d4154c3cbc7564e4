"""Factor extraction: rule-based factors, LLM-extracted factors (atomic facts, fact-level and
response-level verdicts) and UniEval-protocol fluency/coherence, through one engine."""

from .engine import ExtractionResult, extract_factors
from .table import FactorTable, compute_factors

__all__ = ["ExtractionResult", "FactorTable", "compute_factors", "extract_factors"]
