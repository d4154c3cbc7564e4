"""The one prompt-template format of the package.

Every prompt a model gets is a package-data text file ``<package>/prompts/<name>.txt``: factors,
judges, diagnostics and experiments each keep theirs in their own ``prompts/`` folder. A file reads::

    version: 2
    [system]
    fixed instructions, may use $fields too
    [user]
    fixed framing first, then the varying text: $context ... $text

* The first line is ``version: N``. The prompt's tag ``<name>@<version>`` goes into
  ``Request.prompt_version`` (part of the cache key) and into provenance: bump the version whenever the
  text changes, so answers to the old text are never mistaken for answers to the new one.
* ``[system]`` is optional (no system message when absent or empty), ``[user]`` is required; each
  section's text is stripped of surrounding blank space.
* Placeholders are :class:`string.Template` fields (``$name`` or ``${name}``; ``$$`` is a literal
  dollar). Values are inserted verbatim: braces or dollar signs inside a text are never interpreted.
  A missing or an unexpected field is an error, never a silent blank.

Snippets that are *data* rather than prompts (per-task wording, per-factor guidance sentences) live in
one documented format read by :func:`load_texts`: a YAML mapping in ``<package>/prompts/<name>.yaml``
with an integer ``version`` key and string values (or mappings of strings), whose ``$fields`` are filled
with :func:`fill`.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from .backends.base import Request

__all__ = ["Prompt", "PromptError", "Texts", "load_prompt", "load_texts", "prompt_names", "fill",
           "template_fields", "parse_prompt", "parse_texts"]

PROMPT_DIR = "prompts"
_VERSION = re.compile(r"version:\s*(\d+)\s*")
_SECTION = re.compile(r"^\[(system|user)\][ \t]*$", re.M)
_REQUEST_FIELDS = frozenset(Request.model_fields)


class PromptError(ValueError):
    """A malformed prompt file, or fields that do not match a prompt's placeholders."""


def template_fields(text: str) -> set[str]:
    """The ``$name`` / ``${name}`` placeholders of a text (``$$`` is not one)."""
    out = set()
    for m in string.Template.pattern.finditer(text):
        if m.group("invalid") is not None:
            raise PromptError(f"a '$' not followed by a field name at position {m.start('invalid')}: "
                              f"{text[max(0, m.start() - 20): m.start() + 20]!r} (write $$ for a literal dollar)")
        name = m.group("named") or m.group("braced")
        if name:
            out.add(name)
    return out


def _check_fields(want: set[str], given: Mapping[str, Any], where: str) -> None:
    if set(given) != want:
        missing, extra = sorted(want - set(given)), sorted(set(given) - want)
        raise PromptError(f"{where}: fields do not match its placeholders"
                          + (f"; missing {missing}" if missing else "") + (f"; unexpected {extra}" if extra else ""))


def fill(text: str, fields: Mapping[str, Any], *, where: str = "prompt") -> str:
    """``text`` with its placeholders filled verbatim; a missing or unexpected field is a :class:`PromptError`."""
    _check_fields(template_fields(text), fields, where)
    return string.Template(text).substitute({k: str(v) for k, v in fields.items()})


@dataclass(frozen=True)
class Prompt:
    """One prompt file. ``defaults`` are Request keywords a package binds to its prompts (e.g. greedy
    decoding for measurements); keywords given to :meth:`request` win."""

    name: str
    version: str
    system: str
    user: str
    package: str = ""
    defaults: tuple[tuple[str, Any], ...] = field(default=(), compare=False)

    @property
    def tag(self) -> str:
        """``name@version``: what goes into ``Request.prompt_version`` and provenance."""
        return f"{self.name}@{self.version}"

    def fields(self) -> set[str]:
        return template_fields(self.system) | template_fields(self.user)

    def with_defaults(self, **request_kwargs: Any) -> Prompt:
        unknown = sorted(set(request_kwargs) - _REQUEST_FIELDS)
        if unknown:
            raise PromptError(f"prompt {self.name!r}: {unknown} are not Request fields")
        return Prompt(self.name, self.version, self.system, self.user, self.package,
                      tuple({**dict(self.defaults), **request_kwargs}.items()))

    def render(self, **fields: Any) -> list[dict[str, str]]:
        """Chat messages: a system message (when the prompt has one), then the user message."""
        where = f"prompt {self.tag}"
        _check_fields(self.fields(), fields, where)
        msgs = []
        for role, text in (("system", self.system), ("user", self.user)):
            if text:
                msgs.append({"role": role, "content": fill(text, {k: fields[k] for k in template_fields(text)},
                                                           where=where)})
        return msgs

    def request(self, **kwargs: Any) -> Request:
        """A Request for this prompt: keywords named like a placeholder fill it, the others are Request
        fields (``prompt_type`` defaults to the prompt's name). Any other keyword is an error."""
        names = self.fields()
        fields = {k: kwargs.pop(k) for k in list(kwargs) if k in names}
        unknown = sorted(set(kwargs) - _REQUEST_FIELDS)
        if unknown:
            raise PromptError(f"prompt {self.tag}: {unknown} are neither its fields {sorted(names)} nor Request fields")
        opts = {**dict(self.defaults), **kwargs}
        opts.setdefault("prompt_type", self.name)
        return Request(messages=self.render(**fields), prompt_version=self.tag, **opts)


def parse_prompt(name: str, raw: str, *, package: str = "") -> Prompt:
    """Read the text of a prompt file (see the module docstring); errors name the file and line."""
    where = f"{package.replace('.', '/')}/{PROMPT_DIR}/{name}.txt" if package else f"{name}.txt"
    raw = raw.replace("\r\n", "\n")
    first, _, rest = raw.partition("\n")
    m = _VERSION.fullmatch(first)
    if not m:
        raise PromptError(f"{where}, line 1: must be 'version: N' (an integer), got {first!r}")
    parts = _SECTION.split(rest)
    if parts[0].strip():
        raise PromptError(f"{where}, line 2: text before the first [system]/[user] section")
    sections: dict[str, str] = {}
    for i in range(1, len(parts) - 1, 2):
        if parts[i] in sections:
            raise PromptError(f"{where}: section [{parts[i]}] appears twice")
        sections[parts[i]] = parts[i + 1].strip()
    if not sections.get("user"):
        raise PromptError(f"{where}: no (or an empty) [user] section")
    p = Prompt(name, m.group(1), sections.get("system", ""), sections["user"], package)
    try:
        clash = sorted(p.fields() & _REQUEST_FIELDS)
    except PromptError as e:
        raise PromptError(f"{where}: {e}") from None
    if clash:
        raise PromptError(f"{where}: placeholders {clash} are named like Request fields; rename them")
    return p


def prompt_names(package: str) -> list[str]:
    """The prompt files of a package (``<package>/prompts/*.txt``)."""
    folder = resources.files(package).joinpath(PROMPT_DIR)
    return sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".txt"))


@lru_cache(maxsize=None)
def load_prompt(name: str, *, package: str) -> Prompt:
    """Load ``<package>/prompts/<name>.txt``, e.g. ``load_prompt("evaluation", package="profile_align.judges")``."""
    res = resources.files(package).joinpath(PROMPT_DIR).joinpath(f"{name}.txt")
    if not res.is_file():
        raise PromptError(f"no prompt {name!r} in {package}; known: {', '.join(prompt_names(package))}")
    return parse_prompt(name, res.read_text(encoding="utf-8"), package=package)


# ------------------------------------------------------------------------------------------ texts
@dataclass(frozen=True)
class Texts:
    """A versioned table of prompt snippets (``<package>/prompts/<name>.yaml``)."""

    name: str
    version: str
    entries: Mapping[str, Any]

    @property
    def tag(self) -> str:
        return f"{self.name}@{self.version}"


def _check_entries(where: str, obj: Any, path: str = "") -> None:
    if isinstance(obj, str):
        return
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            if not isinstance(k, str):
                raise PromptError(f"{where}: key {k!r}{' under ' + path if path else ''} is not a string")
            _check_entries(where, v, f"{path}.{k}" if path else k)
        return
    raise PromptError(f"{where}: {path or 'the file'} must be a text or a mapping of texts, got {type(obj).__name__}")


@lru_cache(maxsize=None)
def load_texts(name: str, *, package: str) -> Texts:
    """Load ``<package>/prompts/<name>.yaml``: a mapping with an integer ``version`` and string values (or
    mappings of strings). Bump the version when a text changes."""
    where = f"{package.replace('.', '/')}/{PROMPT_DIR}/{name}.yaml"
    res = resources.files(package).joinpath(PROMPT_DIR).joinpath(f"{name}.yaml")
    if not res.is_file():
        raise PromptError(f"no prompt texts {where}")
    return parse_texts(name, res.read_text(encoding="utf-8"), where=where)


def parse_texts(name: str, raw: str, *, where: str = "") -> Texts:
    """Read the text of a snippet table (see :func:`load_texts`); errors name the file and key."""
    where = where or f"{name}.yaml"
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as e:
        raise PromptError(f"{where}: not valid YAML ({e})") from None
    if not isinstance(data, dict) or not isinstance(data.get("version"), int):
        raise PromptError(f"{where}: must be a mapping with an integer 'version' key")
    version = data.pop("version")
    _check_entries(where, data)
    return Texts(name, str(version), data)
