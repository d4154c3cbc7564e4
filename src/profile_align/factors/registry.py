"""The extractor registry: every factor (built-in or a user's) is one extractor, declared with a decorator
that also adds the factor's metadata to :data:`profile_align.taxonomy.REGISTRY`.

An extractor provides one name (a factor, or an intermediate *artifact* such as the atomic facts of the
outputs) and names what it needs; :func:`dependency_order` puts every extractor after what it needs, and
the engine (:mod:`.engine`) walks that order with no knowledge of particular factors.

Declaring a factor:

* rule factors: :func:`register_factor` (``@register_factor("exclamations", value_type="count")`` on a
  function ``fn(text, example) -> float | None``) — :mod:`.rules`;
* LLM factors: :func:`profile_align.factors.llm.llm_factor` (a prompt, a parser and a level:
  ``response``, ``fact`` or ``source-fact``) — :mod:`.llm`;
* atomic facts and ``n_facts``: :mod:`.atomic`; fluency/coherence by UniEval's protocol: :mod:`.unieval`.

The prompt loader is imported here once (:func:`prompt_of`), so that every extractor resolves prompt
names the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..taxonomy import REGISTRY, Factor, FactorRegistry, Level3, ValueType
from .prompts import Prompt, extraction_prompt, load_prompt

if TYPE_CHECKING:
    from ..data.model import Example
    from .engine import ExtractionRun

__all__ = [
    "Extractor", "RuleExtractor", "EXTRACTORS", "ExtractorRegistry", "declare_factor", "register_factor",
    "get_extractor", "remove_factor", "dependency_order", "make_factor", "prompt_of", "RuleFn",
]

# A rule function takes the output text and its example and returns a number (or None: missing).
RuleFn = Callable[[str, "Example"], "float | None"]


def prompt_of(prompt: Any) -> Any:
    """A prompt object from a package prompt name, or the given prompt object itself (a
    :class:`profile_align.prompts.Prompt` gets greedy decoding as its request defaults)."""
    if isinstance(prompt, str):
        return load_prompt(prompt)
    return extraction_prompt(prompt) if isinstance(prompt, Prompt) else prompt


@runtime_checkable
class Extractor(Protocol):
    """What the engine needs of an extractor.

    ``name``: what it provides (a factor name, or an artifact); ``factor``: the factor's metadata (None
    for an artifact); ``needs``: names provided by other extractors, run first; ``model_free``: computed
    by :func:`~profile_align.factors.table.compute_factors` without a model.
    """

    name: str
    needs: tuple[str, ...]
    model_free: bool

    @property
    def factor(self) -> Factor | None:  # read-only here, so an extractor whose factor is never None conforms
        ...

    def available(self, run: ExtractionRun) -> bool:
        """Whether it can run (e.g. a model backend is there); if not, the factor is listed as skipped."""
        ...

    def extract(self, run: ExtractionRun) -> None:
        """Do the work: :meth:`ExtractionRun.set_value` for a factor, ``run.artifacts[name]`` for an artifact."""
        ...


class ExtractorRegistry:
    """Name -> extractor."""

    def __init__(self) -> None:
        self._items: dict[str, Extractor] = {}

    def add(self, ext: Extractor, *, replace: bool = False) -> Extractor:
        if ext.name in self._items and not replace:
            raise ValueError(f"an extractor for {ext.name!r} is already registered (pass replace=True)")
        self._items[ext.name] = ext
        return ext

    def get(self, name: str) -> Extractor | None:
        return self._items.get(name)

    def remove(self, name: str) -> None:
        self._items.pop(name, None)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def names(self) -> list[str]:
        return list(self._items)


EXTRACTORS = ExtractorRegistry()


def get_extractor(name: str) -> Extractor | None:
    return EXTRACTORS.get(name)


def remove_factor(name: str) -> None:
    """Forget a factor's metadata and its extractor (tests, notebooks)."""
    REGISTRY.remove(name)
    EXTRACTORS.remove(name)


def declare_factor(ext: Extractor, *, replace: bool = False, registry: FactorRegistry | None = None,
                   extractors: ExtractorRegistry | None = None) -> Extractor:
    """Register a factor's metadata (``ext.factor``) and its extractor together."""
    if ext.factor is None:
        raise ValueError(f"{ext.name!r} declares no factor metadata")
    # "is None", not "or": an empty registry is falsy
    (REGISTRY if registry is None else registry).add(ext.factor, replace=replace)
    (EXTRACTORS if extractors is None else extractors).add(ext, replace=replace)
    return ext


def make_factor(name: str, *, extractor: str, label: str | None = None, description: str = "",
                level2: str = "custom", level3: Level3 | str = Level3.OUTPUT_ONLY,
                value_type: ValueType | str = ValueType.COUNT, polarity: int = 0, version: str = "1",
                builtin: bool = False) -> Factor:
    return Factor(name=name, label=label or name.replace("_", " "), description=description or name,
                  level2=level2, level3=Level3(level3), value_type=ValueType(value_type), extractor=extractor,
                  polarity=polarity, builtin=builtin, version=version)


class RuleExtractor:
    """A factor computed from the output text and its example by a Python function (no model)."""

    needs: tuple[str, ...] = ()
    model_free = True

    def __init__(self, factor: Factor, fn: RuleFn) -> None:
        self.factor, self.fn, self.name = factor, fn, factor.name

    def available(self, run: ExtractionRun) -> bool:
        return True

    def extract(self, run: ExtractionRun) -> None:  # computed with the other rule factors by compute_factors
        raise NotImplementedError("rule factors are computed by profile_align.factors.table.compute_factors")

    def compute(self, text: str, example: Example) -> float | None:
        return self.fn(text, example)


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
    builtin: bool = False,
) -> Callable[[RuleFn], RuleFn]:
    """Register a rule-based factor computed by the decorated function ``fn(text, example) -> float``.

    >>> @register_factor("exclamations", level3="Output-Only", value_type="count")
    ... def exclamations(text, example):
    ...     return text.count("!")
    """

    def deco(fn: RuleFn) -> RuleFn:
        doc = (fn.__doc__ or "").strip()
        factor = make_factor(name, extractor="rule" if builtin else "custom", label=label,
                             description=description or (doc.splitlines()[0] if doc else name), level2=level2,
                             level3=level3, value_type=value_type, polarity=polarity, version=version,
                             builtin=builtin)
        declare_factor(RuleExtractor(factor, fn), replace=replace, registry=registry,
                       extractors=None if registry is None else ExtractorRegistry())
        return fn

    return deco


def dependency_order(names: Iterable[str]) -> list[Extractor]:
    """The extractors of ``names`` and of everything they need, each after what it needs (depth-first,
    otherwise in the order given). An unknown name or a cycle is an error."""
    order: list[Extractor] = []
    done: set[str] = set()
    active: list[str] = []

    def visit(name: str) -> None:
        if name in done:
            return
        if name in active:
            raise ValueError(f"extractor dependency cycle: {' -> '.join([*active, name])}")
        ext = EXTRACTORS.get(name)
        if ext is None:
            raise ValueError(f"no extractor for {name!r}")
        active.append(name)
        for dep in ext.needs:
            visit(dep)
        active.pop()
        done.add(name)
        order.append(ext)

    for n in names:
        visit(n)
    return order
