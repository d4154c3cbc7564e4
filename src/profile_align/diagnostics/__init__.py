"""Judge diagnostics: catch degenerate LLM judges and extractors, fail runs loudly, probe models, check the
environment.

* :func:`diagnose` — per prompt type x model: answer distribution, distinct answers / inputs, position
  dependence, echo, invalid, truncation and empty rates, and flags (``constant_judge``, ``position_only``,
  ``echoing_judge``, ``high_failure_rate``, ``high_truncation``) with evidence and advice;
* :func:`check_run` — the end-of-run check of the pipeline (``diagnostics.json``, ``manifest["flags"]``,
  printed summary, strict mode);
* :func:`run_probe` — a built-in battery with known answers; :func:`run_doctor` — environment checks.

See docs/diagnostics.md.
"""

from .answers import answer_row, answer_stats, input_key, is_echo, normalise_answer, verdict_value
from .doctor import Check, run_doctor
from .flags import FLAG_RULES, Flag, Thresholds, evaluate_flags, flag_rule
from .probe import PROBE_TASKS, ProbeResult, run_probe
from .summary import STRICT_EXIT_CODE, DiagnosticsReport, RunFlagged, check_run, diagnose

__all__ = [
    "Check",
    "DiagnosticsReport",
    "FLAG_RULES",
    "Flag",
    "PROBE_TASKS",
    "ProbeResult",
    "RunFlagged",
    "STRICT_EXIT_CODE",
    "Thresholds",
    "answer_row",
    "answer_stats",
    "check_run",
    "diagnose",
    "evaluate_flags",
    "flag_rule",
    "input_key",
    "is_echo",
    "normalise_answer",
    "run_doctor",
    "run_probe",
    "verdict_value",
]
