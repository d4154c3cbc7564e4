"""The judge interface: every judge (human labels, a model as generator or evaluator, a reward model)
is a :class:`Judge` — it has a name, a :class:`JudgeKind` and a setting, and turns a
:class:`JudgeContext` (the dataset and the results of the judges that ran before it) into a
:class:`~profile_align.judges.common.JudgeResult`.

Judges are built from a run config through :data:`JUDGE_BUILDERS`, a registry keyed by
``(kind, setting)``; :func:`register_judge` adds a builder (the built-in ones are registered by
``profile_align.pipeline.judging``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # pragma: no cover
    from ..data.dataset import Dataset
    from .common import JudgeResult

__all__ = ["JudgeKind", "Setting", "SETTINGS", "Judge", "JudgeContext", "JudgeBuilder", "JUDGE_BUILDERS",
           "register_judge", "judge_builder", "kind_of_name"]


def kind_of_name(name: str) -> str:
    """The kind of a judge from its name (docs/run-directory.md naming): ``human``, ``rm:<label>``,
    ``<label>:generation`` / ``:evaluation`` / ``:improvement``; anything else is ``"other"``."""
    if name == "human":
        return JudgeKind.HUMAN.value
    if name.startswith("rm:"):
        return JudgeKind.REWARD_MODEL.value
    for kind in ("generation", "evaluation", "improvement"):
        if name.endswith(":" + kind):
            return kind
    return "other"


class JudgeKind(str, Enum):
    """What a judge is. The value is the one spelling used in manifests, tables and the report."""

    HUMAN = "human"
    GENERATION = "generation"    # a model writing outputs for target scores 1..k
    EVALUATION = "evaluation"    # a model comparing two outputs
    REWARD_MODEL = "reward_model"  # a scalar reward per output

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, value: str | JudgeKind) -> JudgeKind:
        """A kind from its value; the former spelling ``rm`` of older run directories is read as
        ``reward_model``. Anything else is a ValueError naming the known kinds."""
        if isinstance(value, JudgeKind):
            return value
        v = str(value).strip().lower()
        if v == "rm":
            return cls.REWARD_MODEL
        try:
            return cls(v)
        except ValueError:
            raise ValueError(f"unknown judge kind {value!r}; known: {[k.value for k in cls]}") from None


#: The two settings of the paper: a judge's preferences come from given pairs (evaluation) or from the
#: target scores of generated outputs (generation). A reward model can judge in both.
Setting = str
SETTINGS: tuple[Setting, ...] = ("evaluation", "generation")


@dataclass
class JudgeContext:
    """What a judge sees: the (sampled) dataset and the results of the judges that ran before it
    (a reward model in the generation setting ranks the outputs the generators wrote)."""

    dataset: Dataset
    previous: Sequence[JudgeResult] = field(default_factory=list)

    def generated(self) -> list[JudgeResult]:
        """The results of generation-setting model judges that produced pairs."""
        return [r for r in self.previous if r.kind == JudgeKind.GENERATION and r.pairs]


@runtime_checkable
class Judge(Protocol):
    """A judge: ``judge(ctx)`` returns its preferences (and any outputs/pairs it created) as a result."""

    name: str
    kind: JudgeKind
    setting: Setting

    def judge(self, ctx: JudgeContext) -> JudgeResult: ...


#: A builder turns one config entry (a judge or reward-model config) plus the run's environment (clients,
#: task, sampling defaults; see ``pipeline.judging``) into a judge, or None when it does not apply.
JudgeBuilder = Callable[[Any, Any], "Judge | None"]
JUDGE_BUILDERS: dict[tuple[JudgeKind, Setting], JudgeBuilder] = {}


def register_judge(kind: JudgeKind | str, setting: Setting) -> Callable[[JudgeBuilder], JudgeBuilder]:
    """Decorator: register the builder of ``kind`` judges in ``setting``."""
    k = JudgeKind.parse(kind)
    if setting not in SETTINGS:
        raise ValueError(f"unknown setting {setting!r}; known: {SETTINGS}")

    def deco(fn: JudgeBuilder) -> JudgeBuilder:
        JUDGE_BUILDERS[(k, setting)] = fn
        return fn

    return deco


def judge_builder(kind: JudgeKind | str, setting: Setting) -> JudgeBuilder:
    key = (JudgeKind.parse(kind), setting)
    try:
        return JUDGE_BUILDERS[key]
    except KeyError:
        known = sorted(f"{k.value}/{s}" for k, s in JUDGE_BUILDERS)
        raise ValueError(f"no judge builder for {key[0].value}/{setting}; registered: {known}") from None
