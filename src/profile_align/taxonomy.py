"""The PROFILE factor taxonomy as data: factor metadata, our level-2 groups, the paper's level-3
relations and the paper's task factor sets. No extraction code lives here: every factor (built-in or a
user's) is declared in :mod:`profile_align.factors` with a decorator that adds its metadata to
:data:`REGISTRY` and its extractor to the extractor registry.

Level 2 is ours (the paper's figure of level-2 groups is not in the method text we follow):

============== =================================================== ==============================
level 2        factors                                             question it answers
============== =================================================== ==============================
relevance      intent_alignment, receptiveness, off_focus          does it address what was asked?
faithfulness   hallucination, misinformation                       can it be trusted?
informativeness n_facts, source_coverage, helpfulness              how much useful content?
verbosity      length                                              how long?
style          formality_alignment, fluency, novel_words,          how is it worded?
               n_novel_words (an extra: the count)
discourse      coherence                                           does it hang together?
============== =================================================== ==============================

Level 3 (the paper's): which texts a factor relates — Input-Output, Source-Output, Output-Only,
Intra-Output.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = [
    "Level3",
    "ValueType",
    "Factor",
    "FactorRegistry",
    "REGISTRY",
    "MODEL_FREE_EXTRACTORS",
    "CORE_FACTORS",
    "get_factor",
    "factors_for_task",
    "TASK_FACTORS",
    "TASK_ALIASES",
    "normalize_task",
    "check_task",
    "LEVEL2_GROUPS",
]


class Level3(str, enum.Enum):
    INPUT_OUTPUT = "Input-Output"
    SOURCE_OUTPUT = "Source-Output"
    OUTPUT_ONLY = "Output-Only"
    INTRA_OUTPUT = "Intra-Output"


class ValueType(str, enum.Enum):
    COUNT = "count"
    RATIO = "ratio"  # a share in [0, 1]
    PROBABILITY = "probability"  # a learned score in [0, 1]
    ORDINAL = "ordinal"  # e.g. not aligned (0) < partially (0.5) < aligned (1)
    BINARY = "binary"


# Extractor kinds ("rule", "custom", "llm-response", "llm-fact", "unieval", or a user's own kind); the
# first two need no model.
MODEL_FREE_EXTRACTORS = frozenset({"rule", "custom"})

LEVEL2_GROUPS: dict[str, str] = {
    "relevance": "does the output address what was asked?",
    "faithfulness": "can the output be trusted?",
    "informativeness": "how much useful content does it carry?",
    "verbosity": "how long is it?",
    "style": "how is it worded?",
    "discourse": "does it hang together?",
}

@dataclass(frozen=True)
class Factor:
    """One factor. ``polarity`` says what *more* of it usually means for quality: ``+1`` good
    (coverage), ``-1`` bad (hallucination), ``0`` neither (length). It never changes a factor score;
    it only helps read one."""

    name: str
    label: str
    description: str
    level2: str
    level3: Level3
    value_type: ValueType
    extractor: str
    polarity: int = 0
    builtin: bool = True
    version: str = "1"

    @property
    def computable_without_model(self) -> bool:
        return self.extractor in MODEL_FREE_EXTRACTORS


# The paper's 13 level-1 factors (declared in profile_align.factors; ``n_novel_words`` is an extra).
CORE_FACTORS: tuple[str, ...] = (
    "length", "novel_words", "fluency", "coherence", "intent_alignment", "formality_alignment", "receptiveness",
    "n_facts", "off_focus", "hallucination", "source_coverage", "helpfulness", "misinformation",
)


class FactorRegistry:
    """Name -> Factor metadata. Filled by the declarations in :mod:`profile_align.factors` (built-ins at
    import, a user's with :func:`profile_align.register_factor` / :func:`profile_align.llm_factor`)."""

    def __init__(self) -> None:
        self._factors: dict[str, Factor] = {}

    def add(self, factor: Factor, *, replace: bool = False) -> Factor:
        if factor.level2 not in LEVEL2_GROUPS and factor.builtin:
            raise ValueError(f"unknown level-2 group {factor.level2!r}")
        if factor.name in self._factors and not replace:
            raise ValueError(f"factor {factor.name!r} is already registered (pass replace=True)")
        self._factors[factor.name] = factor
        return factor

    def get(self, name: str) -> Factor:
        try:
            return self._factors[name]
        except KeyError:
            raise KeyError(f"unknown factor {name!r}; known: {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        """The paper's 13 factors in the paper's order first, then the others as registered."""
        core = [n for n in CORE_FACTORS if n in self._factors]
        return core + [n for n in self._factors if n not in CORE_FACTORS]

    def __iter__(self) -> Iterator[Factor]:
        return iter([self._factors[n] for n in self.names()])

    def __contains__(self, name: object) -> bool:
        return name in self._factors

    def __len__(self) -> int:
        return len(self._factors)

    def remove(self, name: str) -> None:
        self._factors.pop(name, None)


REGISTRY = FactorRegistry()


# The paper's task factor sets (section 2 of the method), in the paper's order.
TASK_FACTORS: dict[str, tuple[str, ...]] = {
    "summarization": ("intent_alignment", "formality_alignment", "n_facts", "source_coverage", "length",
                      "coherence", "off_focus", "hallucination", "fluency", "novel_words"),
    "helpful_response": ("receptiveness", "helpfulness", "n_facts", "length", "coherence", "misinformation",
                         "fluency", "off_focus", "hallucination"),
    "document_qa": ("receptiveness", "length", "helpfulness", "n_facts", "coherence", "fluency",
                    "misinformation", "off_focus", "novel_words", "hallucination"),
}

TASK_ALIASES: dict[str, str] = {
    "summarization": "summarization", "summarisation": "summarization", "summary": "summarization",
    "tldr": "summarization", "helpful_response": "helpful_response", "helpful": "helpful_response",
    "helpful-response": "helpful_response", "shp": "helpful_response", "dialogue": "helpful_response",
    "instruction": "helpful_response", "document_qa": "document_qa", "document-qa": "document_qa",
    "qa": "document_qa", "webgpt": "document_qa",
}


def normalize_task(task: str) -> str:
    """Canonical task name; unknown names pass through (a custom task with an explicit factor list)."""
    return TASK_ALIASES.get(task.strip().lower(), task.strip().lower())


def check_task(task: str) -> str:
    """The canonical name of a known task (aliases such as ``summarisation`` accepted); an unknown
    name is an error listing the tasks (a typo must not silently become a custom task)."""
    t = normalize_task(task)
    if t in TASK_FACTORS or t == "generic":
        return t
    raise ValueError(f"unknown task {task!r}; known tasks: {', '.join(TASK_FACTORS)}, generic "
                     f"(aliases: {', '.join(k for k in TASK_ALIASES if k not in TASK_FACTORS)})")


def get_factor(name: str) -> Factor:
    return REGISTRY.get(name)


def factors_for_task(task: str, *, only_rule: bool = False, extra: Iterable[str] = ()) -> list[Factor]:
    """The paper's factor set for a task (plus ``extra`` names); ``only_rule`` keeps those computable
    without a model. An unknown task gets every registered factor."""
    t = normalize_task(task)
    names = list(TASK_FACTORS.get(t, REGISTRY.names()))
    names += [n for n in extra if n not in names]
    facs = [REGISTRY.get(n) for n in names]
    if only_rule:
        facs = [f for f in facs if f.computable_without_model]
    return facs
