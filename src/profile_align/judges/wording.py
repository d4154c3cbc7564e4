"""Per-task wording of the judges' prompts (``judges/prompts/tasks.yaml``, read with
:func:`profile_align.prompts.load_texts`) and the context every judge prompt starts with."""

from __future__ import annotations

from typing import Literal

from ..data.model import Example
from ..prompts import fill, load_texts, template_fields
from ..taxonomy import normalize_task

__all__ = ["task_wording", "render_context", "length_limit", "wording_tag"]


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


def render_context(example: Example, task: str) -> str:
    """The fixed part every judge prompt starts with (so the backend can reuse its prompt cache):
    the article/post/question, its title, and reference passages for document QA."""
    w = task_wording(task)
    head = f"{w['source_label']}:"
    body = f"{example.title}\n{example.input}" if example.title else example.input
    text = f"{head}\n{body.strip()}"
    if example.sources and normalize_task(task) != "summarization":
        refs = "\n".join(f"[{i}] {s.strip()}" for i, s in enumerate(example.sources, 1))
        text += f"\n\nReference passages:\n{refs}"
    return text
