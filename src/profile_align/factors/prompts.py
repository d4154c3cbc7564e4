"""Prompt templates of the factor extractors: package-data text files with a version.

Each ``prompts/<name>.txt`` file reads::

    version: 3
    === system ===
    fixed instructions ...
    === user ===
    fixed framing, then the varying text: $source ... $text

Placeholders use :class:`string.Template` syntax (``$text``), so braces and dollar signs inside the
texts we insert are never interpreted. The version goes into ``Request.prompt_version`` (part of the
cache key) as ``<name>@<version>``, and into the provenance of every factor value: bump it when a
template changes. Templates are our own wording; they carry no example answers (small models copy them)
and put fixed text first, the varying text last (llama.cpp reuses the shared prompt prefix).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from ..backends.base import Request

__all__ = ["Prompt", "load_prompt", "prompt_names", "EXTRACTION_TEMPERATURE"]

# Factor extraction is a measurement: decode greedily so the same text always gets the same value
# (the paper's temperature 0.6 is for model judges, not for extractors).
EXTRACTION_TEMPERATURE = 0.0

_HEADER = re.compile(r"\Aversion:\s*(\S+)\s*\n=== system ===\n(.*?)\n=== user ===\n(.*)\Z", re.S)


@dataclass(frozen=True)
class Prompt:
    name: str
    version: str
    system: str
    user: str

    @property
    def tag(self) -> str:
        """``name@version``: what goes into ``Request.prompt_version`` and provenance."""
        return f"{self.name}@{self.version}"

    def fields(self) -> set[str]:
        return {m.group("named") or m.group("braced")
                for m in string.Template.pattern.finditer(self.user) if m.group("named") or m.group("braced")}

    def render(self, **fields: str) -> str:
        """The user message; a missing or unexpected field is an error, not a silent blank."""
        want = self.fields()
        if set(fields) != want:
            raise KeyError(f"prompt {self.name!r} needs fields {sorted(want)}, got {sorted(fields)}")
        return string.Template(self.user).substitute(**fields)

    def request(self, *, prompt_type: str | None = None, **kwargs: Any) -> Request:
        """A Request for this template: fields are the placeholders; other keywords go to Request."""
        fields = {k: kwargs.pop(k) for k in list(kwargs) if k in self.fields()}
        kwargs.setdefault("temperature", EXTRACTION_TEMPERATURE)
        kwargs.setdefault("top_p", 1.0)
        return Request.from_prompt(self.render(**fields), system=self.system, prompt_type=prompt_type or self.name,
                                   prompt_version=self.tag, **kwargs)


def prompt_names() -> list[str]:
    return sorted(p.name[:-4] for p in resources.files(__package__).joinpath("prompts").iterdir()
                  if p.name.endswith(".txt"))


@lru_cache(maxsize=None)
def load_prompt(name: str) -> Prompt:
    """Load ``prompts/<name>.txt`` from the package."""
    res = resources.files(__package__).joinpath("prompts", f"{name}.txt")
    if not res.is_file():
        raise KeyError(f"no factor prompt {name!r}; known: {', '.join(prompt_names())}")
    raw = res.read_text(encoding="utf-8").replace("\r\n", "\n")
    m = _HEADER.match(raw.rstrip("\n"))
    if not m:
        raise ValueError(f"prompt file {name}.txt: expected 'version: N', '=== system ===', '=== user ===' sections")
    return Prompt(name, m.group(1), m.group(2).strip(), m.group(3).strip())
