"""The small copies of the project's human-judgement sets that ship inside the package
(``profile_align/data/shipped``; provenance and licences in ``PROVENANCE.md`` there)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from .io import read_records

__all__ = ["ShippedSet", "shipped_datasets", "shipped_path", "read_shipped_rows", "SHIPPED_DIR"]

SHIPPED_DIR = Path(__file__).resolve().parent.parent / "shipped"


class ShippedSet(NamedTuple):
    path: Path
    format: str
    description: str
    licence: str


_SETS: dict[str, tuple[str, str, str, str]] = {
    "summeval": ("summeval_20.jsonl.gz", "summeval",
                 "SummEval expert ratings, first 20 CNN/DM documents x 16 systems (320 rows)",
                 "Apache-2.0 (BARTScore packaging) / MIT (SummEval annotations)"),
    "hh-rlhf": ("hh_rlhf_harmless_200.jsonl.gz", "hh_rlhf",
                "Anthropic hh-rlhf harmless-base test, first 200 converted pairs (offensive content by design)",
                "MIT"),
    "llmbar": ("llmbar.jsonl.gz", "llmbar", "LLMBar Natural + Adversarial, all 419 pairs", "MIT"),
    "mtbench": ("mtbench_human.jsonl.gz", "mtbench",
                "MT-Bench human majority-vote pairs (LLMBar packaging), all 200",
                "CC-BY-4.0 (MT-Bench human judgements) + MIT (LLMBar packaging)"),
    "triviaqa": ("triviaqa_150.jsonl.gz", "triviaqa",
                 "150 TriviaQA questions with answer aliases (not pairs; for the generation/evaluation paradox)",
                 "MIT (subset repo) / Apache-2.0 (TriviaQA)"),
}

ALIASES = {"hh_rlhf": "hh-rlhf", "hh": "hh-rlhf", "mt-bench": "mtbench", "mt_bench": "mtbench"}


def shipped_datasets() -> dict[str, ShippedSet]:
    """name -> (path, format, description, licence) of every shipped set."""
    return {k: ShippedSet(SHIPPED_DIR / f, fmt, d, lic) for k, (f, fmt, d, lic) in _SETS.items()}


def canonical_name(name: str) -> str | None:
    n = name.strip().lower()
    n = ALIASES.get(n, n)
    return n if n in _SETS else None


def shipped_path(name: str) -> Path:
    key = canonical_name(name)
    if key is None:
        raise KeyError(f"no shipped data set {name!r}; shipped: {', '.join(_SETS)}")
    return SHIPPED_DIR / _SETS[key][0]


def read_shipped_rows(name: str) -> Iterator[dict[str, Any]]:
    """The raw rows of a shipped set (e.g. ``"triviaqa"``, which is not a preference set)."""
    for rec in read_records(shipped_path(name)):
        yield rec.data
