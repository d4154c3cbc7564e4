"""Prompt templates of the model judges: package-data text files under ``judges/prompts/``.

A template file starts with ``version: N`` (it goes into ``Request.prompt_version``, hence into the
cache key), followed by ``[system]`` and ``[user]`` sections; ``{name}`` fields are filled with
:meth:`Template.render`. ``tasks.yaml`` holds the per-task wording (what the output is called, the
instruction, the comparison criterion). The prompts are our own wording and contain no example answers
(small models copy them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from ..data.model import Example
from ..taxonomy import normalize_task

__all__ = ["Template", "load_template", "task_wording", "rubric_lines", "render_context", "PROMPT_DIR"]

PROMPT_DIR = "prompts"
_SECTION = re.compile(r"^\[(system|user)\]\s*$", re.M)


@dataclass(frozen=True)
class Template:
    name: str
    version: str
    system: str
    user: str

    def render(self, **fields: Any) -> list[dict[str, str]]:
        """Chat messages with the fields filled in (values are inserted verbatim)."""
        msgs = []
        if self.system:
            msgs.append({"role": "system", "content": self.system.format(**fields).strip()})
        msgs.append({"role": "user", "content": self.user.format(**fields).strip()})
        return msgs


def _read(name: str, package: str = "profile_align.judges") -> str:
    return resources.files(package).joinpath(PROMPT_DIR).joinpath(name).read_text(encoding="utf-8")


@lru_cache(maxsize=None)
def load_template(name: str, package: str = "profile_align.judges") -> Template:
    """Load ``<package>/prompts/<name>.txt`` (first line ``version: N``, then ``[system]`` / ``[user]``
    sections). Raises ``FileNotFoundError`` / ``ValueError`` on a malformed file."""
    raw = _read(f"{name}.txt", package)
    first, _, rest = raw.partition("\n")
    m = re.fullmatch(r"version:\s*(\S+)\s*", first)
    if not m:
        raise ValueError(f"prompt {name!r}: first line must be 'version: N', got {first!r}")
    parts = _SECTION.split(rest)
    sections = {parts[i]: parts[i + 1].strip("\n") for i in range(1, len(parts) - 1, 2)}
    if "user" not in sections:
        raise ValueError(f"prompt {name!r} has no [user] section")
    return Template(name, m.group(1), sections.get("system", ""), sections["user"])


@lru_cache(maxsize=None)
def _tasks() -> dict[str, dict[str, str]]:
    return yaml.safe_load(_read("tasks.yaml"))


def task_wording(task: str) -> dict[str, str]:
    """noun, nouns, Noun, source_label, instruction, criterion for a task ('generic' for unknown tasks)."""
    t = _tasks()
    w = dict(t.get(normalize_task(task), t["generic"]))
    w["Noun"] = w["noun"][:1].upper() + w["noun"][1:]
    return w


def rubric_lines(task: str, k: int = 5) -> tuple[str, dict[int, str]]:
    """(version, {score: description}) for scores 1..k. The shipped rubric has five levels; for another
    k the description says where the score sits on the scale."""
    raw = _read("rubric.txt")
    first, _, rest = raw.partition("\n")
    version = first.split(":", 1)[1].strip()
    noun = task_wording(task)["noun"]
    lines: dict[int, str] = {}
    for line in rest.splitlines():
        m = re.match(r"^(\d+):\s*(.+)$", line.strip())
        if m:
            lines[int(m.group(1))] = m.group(2).format(noun=noun)
    if k == len(lines) and set(lines) == set(range(1, k + 1)):
        return version, lines
    return version, {s: f"a {noun} at level {s} of {k}, where 1 is the worst and {k} the best." for s in range(1, k + 1)}


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
