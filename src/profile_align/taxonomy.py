"""The PROFILE factor taxonomy: 13 level-1 factors, our level-2 groups, the paper's level-3 relations,
the paper's task factor sets, and a registry so a user can add a factor with a decorator.

Level 2 is ours (the paper's figure of level-2 groups is not in the method text we follow):

============== =================================================== ==============================
level 2        factors                                             question it answers
============== =================================================== ==============================
relevance      intent_alignment, receptiveness, off_focus          does it address what was asked?
faithfulness   hallucination, misinformation                       can it be trusted?
informativeness n_facts, source_coverage, helpfulness              how much useful content?
verbosity      length                                              how long?
style          formality_alignment, fluency, novel_words           how is it worded?
discourse      coherence                                           does it hang together?
============== =================================================== ==============================

Level 3 (the paper's): which texts a factor relates — Input-Output, Source-Output, Output-Only,
Intra-Output.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from .data.model import Example

__all__ = [
    "Level3",
    "ValueType",
    "Factor",
    "FactorRegistry",
    "REGISTRY",
    "register_factor",
    "get_factor",
    "factors_for_task",
    "TASK_FACTORS",
    "TASK_ALIASES",
    "normalize_task",
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


Extractor = Literal["rule", "llm-response", "llm-fact", "unieval", "custom"]

LEVEL2_GROUPS: dict[str, str] = {
    "relevance": "does the output address what was asked?",
    "faithfulness": "can the output be trusted?",
    "informativeness": "how much useful content does it carry?",
    "verbosity": "how long is it?",
    "style": "how is it worded?",
    "discourse": "does it hang together?",
}

# A rule function takes the output text and its example and returns a number (or None: missing).
RuleFn = Callable[[str, "Example"], "float | None"]


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
    extractor: Extractor
    polarity: int = 0
    fn: RuleFn | None = field(default=None, compare=False, repr=False)
    builtin: bool = True
    version: str = "1"

    @property
    def computable_without_model(self) -> bool:
        return self.fn is not None

    def compute(self, text: str, example: Example) -> float | None:
        if self.fn is None:
            raise NotImplementedError(
                f"factor {self.name!r} is extracted by {self.extractor!r}, which needs a model backend"
            )
        return self.fn(text, example)


class FactorRegistry:
    """Name -> Factor. Built-ins are registered at import; users add their own with
    :func:`register_factor`."""

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
        return list(self._factors)

    def __iter__(self):
        return iter(self._factors.values())

    def __contains__(self, name: object) -> bool:
        return name in self._factors

    def __len__(self) -> int:
        return len(self._factors)

    def remove(self, name: str) -> None:
        self._factors.pop(name, None)


REGISTRY = FactorRegistry()


def register_factor(
    name: str,
    *,
    label: str | None = None,
    description: str = "",
    level2: str = "custom",
    level3: Level3 | str = Level3.OUTPUT_ONLY,
    value_type: ValueType | str = ValueType.COUNT,
    polarity: int = 0,
    version: str = "1",
    replace: bool = False,
    registry: FactorRegistry | None = None,
) -> Callable[[RuleFn], RuleFn]:
    """Register a rule-based factor computed by the decorated function ``fn(text, example) -> float``.

    >>> @register_factor("exclamations", level3="Output-Only", value_type="count")
    ... def exclamations(text, example):
    ...     return text.count("!")
    """

    def deco(fn: RuleFn) -> RuleFn:
        doc = (fn.__doc__ or "").strip()
        (registry or REGISTRY).add(
            Factor(
                name=name,
                label=label or name.replace("_", " "),
                description=description or (doc.splitlines()[0] if doc else name),
                level2=level2,
                level3=Level3(level3),
                value_type=ValueType(value_type),
                extractor="custom",
                polarity=polarity,
                fn=fn,
                builtin=False,
                version=version,
            ),
            replace=replace,
        )
        return fn

    return deco


def _builtin(name: str, label: str, description: str, level2: str, level3: Level3, value_type: ValueType,
             extractor: Extractor, polarity: int = 0) -> None:
    REGISTRY.add(Factor(name, label, description, level2, level3, value_type, extractor, polarity))


# The 13 factors (rule functions for length and novel words are attached in factors/rules.py).
_builtin("length", "length", "words in the output after removing special characters",
         "verbosity", Level3.OUTPUT_ONLY, ValueType.COUNT, "rule")
_builtin("novel_words", "novel words", "unique stemmed output words absent from the stemmed source",
         "style", Level3.SOURCE_OUTPUT, ValueType.COUNT, "rule")
_builtin("fluency", "fluency", "is each sentence well formed (UniEval Boolean QA, averaged over sentences)",
         "style", Level3.OUTPUT_ONLY, ValueType.PROBABILITY, "unieval", +1)
_builtin("coherence", "coherence", "do the sentences form a coherent body (UniEval Boolean QA)",
         "discourse", Level3.INTRA_OUTPUT, ValueType.PROBABILITY, "unieval", +1)
_builtin("intent_alignment", "intent-align", "does the output serve the main intent of the input",
         "relevance", Level3.INPUT_OUTPUT, ValueType.ORDINAL, "llm-response", +1)
_builtin("formality_alignment", "formality-align", "does the output's formality match the source's",
         "style", Level3.INPUT_OUTPUT, ValueType.ORDINAL, "llm-response", +1)
_builtin("receptiveness", "receptive", "does the response clearly address the user's query",
         "relevance", Level3.INPUT_OUTPUT, ValueType.BINARY, "llm-response", +1)
_builtin("n_facts", "# facts", "number of atomic facts in the output",
         "informativeness", Level3.OUTPUT_ONLY, ValueType.COUNT, "llm-fact")
_builtin("off_focus", "off-focus", "share of output facts not about the main focus of the input",
         "relevance", Level3.INPUT_OUTPUT, ValueType.RATIO, "llm-fact", -1)
_builtin("hallucination", "hallucination", "share of output facts not supported by, or contradicting, the source",
         "faithfulness", Level3.SOURCE_OUTPUT, ValueType.RATIO, "llm-fact", -1)
_builtin("source_coverage", "src-cov", "share of the source's atomic facts that the output contains",
         "informativeness", Level3.SOURCE_OUTPUT, ValueType.RATIO, "llm-fact", +1)
_builtin("helpfulness", "helpfulness", "share of output facts that add helpful information beyond the strict answer",
         "informativeness", Level3.OUTPUT_ONLY, ValueType.RATIO, "llm-fact", +1)
_builtin("misinformation", "misinformation",
         "share of output facts that are potentially misleading (assumptions about the user, medical/legal/"
         "financial advice, conspiracy, calls to real-world action)",
         "faithfulness", Level3.OUTPUT_ONLY, ValueType.RATIO, "llm-fact", -1)

CORE_FACTORS: tuple[str, ...] = tuple(REGISTRY.names())
__all__.append("CORE_FACTORS")

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

# Attach the rule functions of the built-in rule factors (length, novel words). Imported last because
# the rules module registers into REGISTRY above.
from .factors import rules as _rules  # noqa: E402,F401
