"""Exit codes of the ``profile-align`` command line and the one mapping from exceptions to a message and a code.

Every command lets its errors propagate; :func:`handle` (called by :func:`profile_align.cli.main`) turns
them into one or two lines on stderr and the exit code below. No command carries its own try/except copy.

====  =====================================================================================
code  meaning
====  =====================================================================================
0     success
1     a check failed (``doctor``, ``probe --fail-under``, ``backends check``) or an internal error
2     bad input: a missing or malformed file, config, option value or run directory
3     ``--strict``: a judge diagnostic flag was raised (or the failure rate passed its threshold)
4     the failure rate of LLM answers is above ``--max-failure-rate`` / ``max_failure_rate``
5     a missing dependency: model weights, an optional extra, an API key or a server URL
6     a backend or network failure: the server is unreachable, a request failed for good
7     stopped at ``--max-requests`` / ``--max-cost`` (the answers so far are cached: rerun to resume)
====  =====================================================================================

Set ``PROFILE_ALIGN_DEBUG=1`` to get the Python traceback of an unexpected error.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["EXIT_OK", "EXIT_CHECK_FAILED", "EXIT_BAD_INPUT", "EXIT_STRICT", "EXIT_FAILURE_RATE",
           "EXIT_MISSING_DEPENDENCY", "EXIT_BACKEND", "EXIT_BUDGET", "EXIT_CODES", "ErrorRule", "classify", "handle"]

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_STRICT = 3
EXIT_FAILURE_RATE = 4
EXIT_MISSING_DEPENDENCY = 5
EXIT_BACKEND = 6
EXIT_BUDGET = 7

EXIT_CODES: dict[int, str] = {
    EXIT_OK: "success",
    EXIT_CHECK_FAILED: "a check failed (doctor, probe --fail-under, backends check) or an internal error",
    EXIT_BAD_INPUT: "bad input: a missing or malformed file, config, option value or run directory",
    EXIT_STRICT: "--strict: a judge diagnostic flag was raised",
    EXIT_FAILURE_RATE: "the failure rate of LLM answers is above --max-failure-rate / max_failure_rate",
    EXIT_MISSING_DEPENDENCY: "a missing dependency: model weights, an optional extra, an API key or a server URL",
    EXIT_BACKEND: "a backend or network failure: server unreachable, request failed after its retries",
    EXIT_BUDGET: "stopped at --max-requests / --max-cost (answers so far are cached: rerun to resume)",
}


@dataclass(frozen=True)
class ErrorRule:
    """Exceptions of type ``module:Name`` (resolved lazily) exit with ``code``; ``hint`` adds a line."""

    type_path: str
    code: int
    hint: Callable[[BaseException], str | None] | None = None

    def matches(self, exc: BaseException) -> bool:
        module, _, name = self.type_path.partition(":")
        try:
            cls = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            return False
        return isinstance(exc, cls)


def _hub_hint(exc: BaseException) -> str | None:
    text = str(exc)
    if "Hub" in text or "huggingface" in text.lower():
        return ("the Hugging Face Hub is unreachable (offline?): download the data and pass the file's path, "
                "or set HF_DATASETS_OFFLINE=1 to read a copy cached earlier")
    return "check the server URL and that the server is running (`profile-align backends check --model MODEL`)"


def _import_hint(exc: BaseException) -> str | None:
    if isinstance(exc, ModuleNotFoundError) and exc.name and "pip install" not in str(exc):
        return f"install the missing package: pip install {exc.name.split('.')[0]} (or the extra that needs it)"
    return None


# First match wins: the specific types come before their base classes.
RULES: tuple[ErrorRule, ...] = (
    ErrorRule("profile_align.backends.budget:BudgetExceeded", EXIT_BUDGET),
    ErrorRule("profile_align.backends.base:BackendUnavailable", EXIT_MISSING_DEPENDENCY),
    ErrorRule("profile_align.data.loaders.hub:HubUnavailableError", EXIT_MISSING_DEPENDENCY),
    ErrorRule("profile_align.report.document:MissingExtra", EXIT_MISSING_DEPENDENCY),
    ErrorRule("profile_align.factors.unieval:UniEvalUnavailable", EXIT_MISSING_DEPENDENCY),
    ErrorRule("builtins:ImportError", EXIT_MISSING_DEPENDENCY, _import_hint),
    ErrorRule("profile_align.backends.base:BackendError", EXIT_BACKEND),
    ErrorRule("builtins:ConnectionError", EXIT_BACKEND, _hub_hint),
    ErrorRule("httpx:TransportError", EXIT_BACKEND, _hub_hint),
    ErrorRule("builtins:FileNotFoundError", EXIT_BAD_INPUT),
    ErrorRule("builtins:IsADirectoryError", EXIT_BAD_INPUT),
    ErrorRule("builtins:ValueError", EXIT_BAD_INPUT),   # InvalidInputError, ConfigError, NotARunDirectory, ...
    ErrorRule("builtins:KeyError", EXIT_BAD_INPUT),
)


def _message(exc: BaseException) -> str:
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    if isinstance(exc, FileNotFoundError) and exc.filename:
        return f"{exc.filename}: no such file"
    text = str(exc).strip()
    return text or type(exc).__name__


def classify(exc: BaseException) -> tuple[str, int]:
    """(the message for the user, the exit code) of an exception a command let through."""
    for rule in RULES:
        if rule.matches(exc):
            msg = _message(exc)
            hint = rule.hint(exc) if rule.hint else None
            return (f"{msg}\n{hint}" if hint else msg), rule.code
    return (f"internal error: {type(exc).__name__}: {exc} (a bug in profile-align; rerun with "
            "PROFILE_ALIGN_DEBUG=1 for the traceback and report it)"), EXIT_CHECK_FAILED


def handle(exc: BaseException, print_err: Callable[[str], None]) -> int:
    """Print the message of ``exc`` with ``print_err`` and return its exit code (re-raise in debug mode)."""
    if os.environ.get("PROFILE_ALIGN_DEBUG"):
        raise exc
    msg, code = classify(exc)
    print_err(f"error: {msg}")
    return code
