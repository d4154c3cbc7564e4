"""Factor extraction: every factor is an extractor in one registry (:mod:`.registry`), declared with the
decorators users get: rule factors (:mod:`.rules`, :func:`register_factor`), atomic facts and
``n_facts`` (:mod:`.atomic`), LLM-extracted fact- and response-level factors (:mod:`.llm`,
:func:`llm_factor`) and UniEval-protocol fluency/coherence (:mod:`.unieval`); one engine
(:mod:`.engine`) walks them in dependency order and writes through a sink (:mod:`.sink`)."""

from . import atomic, llm, rules, unieval  # noqa: F401  (declare the built-in factors)
from .engine import ExtractionResult, ExtractionRun, extract_factors
from .llm import Labels, ParsedAnswer, ShareOf, llm_factor
from .registry import EXTRACTORS, Extractor, register_factor
from .sink import FactorSink, FactorSnapshot, MemorySink, RunDirSink
from .table import FactorTable, compute_factors

__all__ = ["ExtractionResult", "ExtractionRun", "Extractor", "EXTRACTORS", "FactorSink", "FactorSnapshot",
           "FactorTable", "Labels", "MemorySink", "ParsedAnswer", "RunDirSink", "ShareOf", "compute_factors",
           "extract_factors", "llm_factor", "register_factor"]
