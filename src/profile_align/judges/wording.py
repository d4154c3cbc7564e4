"""Per-task wording of the judges' prompts (``judges/prompts/tasks.yaml``, read with
:func:`profile_align.prompts.load_texts`) and the context every judge prompt starts with."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Literal

from ..data.model import Example, Output
from ..prompts import fill, load_texts, template_fields
from ..taxonomy import normalize_task

__all__ = ["task_wording", "render_context", "length_limit", "wording_tag", "per_answer_references",
           "evaluation_layout"]


def wording_tag() -> str:
    """``tasks@<version>`` of the task wording (recorded next to the prompt tags)."""
    return load_texts("tasks", package=__package__).tag


def task_wording(task: str) -> dict[str, str]:
    """noun, nouns, Noun, source_label, instruction, criterion for a task ('generic' for unknown tasks)."""
    t = load_texts("tasks", package=__package__).entries["tasks"]
    w = dict(t.get(normalize_task(task), t["generic"]))
    w["Noun"] = w["noun"][:1].upper() + w["noun"][1:]
    return w


def length_limit(noun: str, max_words: int | None, which: Literal["each", "one"] = "one") -> str:
    """The optional length instruction (with a leading space) appended to a generation instruction, or ""
    when ``max_words`` is None (the paper sets no limit; a limit is a labelled deviation)."""
    if max_words is None:
        return ""
    text = load_texts("tasks", package=__package__).entries["length_limit"][which]
    given = {"noun": noun, "max_words": max_words}
    return " " + fill(text, {k: given[k] for k in template_fields(text) if k in given},
                      where=f"judges/prompts/tasks.yaml length_limit.{which}")


def _references(sources: Sequence[str]) -> str:
    return "\n".join(f"[{i}] {s.strip()}" for i, s in enumerate(sources, 1))


def _shows_references(task: str) -> bool:
    # a summarised article's sources are the text itself (the context), not references
    return normalize_task(task) != "summarization"


def render_context(example: Example, task: str) -> str:
    """The fixed part every judge prompt starts with (so the backend can reuse its prompt cache):
    the article/post/question, its title, and reference passages for document QA."""
    w = task_wording(task)
    head = f"{w['source_label']}:"
    body = f"{example.title}\n{example.input}" if example.title else example.input
    text = f"{head}\n{body.strip()}"
    if example.sources and _shows_references(task):
        text += f"\n\nReference passages:\n{_references(example.sources)}"
    return text


def per_answer_references(task: str, *outputs: Output) -> bool:
    """Whether a pair is shown with each output followed by its OWN references (document QA where an
    output carries its own sources, e.g. WebGPT's quotes_0/quotes_1; paper Appendix D.2.1) instead of
    one reference list in the context."""
    return _shows_references(task) and any(o.sources is not None for o in outputs)


def evaluation_layout(example: Example, task: str, first: Output, second: Output) -> tuple[str, dict[str, str]]:
    """The evaluation prompt for one pair shown in this order: its name and its pair-specific fields.

    The usual layout (prompt ``evaluation``): the context (with the example's reference passages, if
    any), then output 1 and output 2. Where an output carries its own sources
    (:func:`per_answer_references`), prompt ``evaluation_references``: the context holds the question
    alone, and each output is followed by its own references (an output without its own gets the
    example's; ``(none)`` for an empty list), so two answers citing different quotes are never judged
    against one pooled list.
    """
    fields = {"text_1": first.text.strip(), "text_2": second.text.strip()}
    if not per_answer_references(task, first, second):
        return "evaluation", {"context": render_context(example, task), **fields}
    question = dataclasses.replace(example, sources=())
    refs = {f"references_{i}": _references(example.for_output(o).sources) or "(none)"
            for i, o in ((1, first), (2, second))}
    return "evaluation_references", {"context": render_context(question, task), **fields, **refs}
