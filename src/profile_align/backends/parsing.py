"""Lenient JSON extraction from chatty model replies, and validation.

Small models wrap JSON in code fences, add a sentence before or after, use single quotes or leave a
trailing comma. :func:`extract_json` recovers the object in those cases and raises :class:`ParseError`
otherwise: it never guesses an answer (a reply holding several JSON answers that disagree is
unparseable).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

__all__ = ["ParseError", "extract_json", "parse_model", "schema_errors"]

M = TypeVar("M", bound=BaseModel)

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\r?\n?(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_PY_LITERALS = re.compile(r"\b(True|False|None)\b")
_PY_TO_JSON = {"True": "true", "False": "false", "None": "null"}


class ParseError(ValueError):
    """The reply holds no recoverable JSON value (or it does not validate)."""

    def __init__(self, message: str, text: str = ""):
        super().__init__(message)
        self.text = text


def _balanced_spans(text: str) -> list[str]:
    """Top-level ``{...}`` / ``[...]`` spans, string-aware (both quote styles)."""
    spans: list[str] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] not in "{[":
            i += 1
            continue
        depth, quote, esc, j = 0, "", False, i
        while j < n:
            c = text[j]
            if quote:
                if esc:
                    esc = False
                elif c == "\\":
                    esc = True
                elif c == quote:
                    quote = ""
            elif c in "\"'":
                # an apostrophe inside a word ("don't") is not a quote
                if c == "'" and j > 0 and text[j - 1].isalnum() and j + 1 < n and text[j + 1].isalnum():
                    pass
                else:
                    quote = c
            elif c in "{[":
                depth += 1
            elif c in "}]":
                depth -= 1
                if depth == 0:
                    spans.append(text[i:j + 1])
                    break
            j += 1
        i = j + 1 if depth == 0 and j < n else i + 1
    return spans


def _try_load(candidate: str) -> tuple[bool, Any]:
    s = candidate.strip()
    if not s:
        return False, None
    try:
        return True, json.loads(s)
    except ValueError:
        pass
    repaired = _TRAILING_COMMA.sub(r"\1", s)
    try:
        return True, json.loads(repaired)
    except ValueError:
        pass
    try:  # single quotes, Python literals
        value = ast.literal_eval(repaired)
        if isinstance(value, (dict, list)):
            return True, value
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        pass
    try:
        return True, json.loads(_PY_LITERALS.sub(lambda m: _PY_TO_JSON[m.group(1)], repaired))
    except ValueError:
        return False, None


def _compatible(x: Any, y: Any) -> bool:
    """Two candidate answers agree: equal, or objects whose shared keys hold equal values."""
    if x == y:
        return True
    if isinstance(x, dict) and isinstance(y, dict):
        return all(x[k] == y[k] for k in x.keys() & y.keys())
    return False


def _candidates(text: str) -> list[Any]:
    """Every JSON value the reply holds: fenced blocks (also one cut off by max_tokens), then the
    balanced ``{...}`` / ``[...]`` spans of the whole text, in order, without repeats."""
    bodies = [body for _, body in _FENCE.findall(text)]
    m = re.search(r"```[A-Za-z0-9_+-]*[ \t]*\r?\n(.*)$", text, re.DOTALL)
    if m and "```" not in m.group(1):
        bodies.append(m.group(1))
    found: list[Any] = []
    whole = [s for s in _balanced_spans(text) if _try_load(s)[0]]
    for source in [*bodies, *_balanced_spans(text)]:
        ok, value = _try_load(source)
        if not ok:
            # a fence around prose with a JSON object inside it; not a piece of a larger JSON value that a
            # "```" inside one of its strings cut (that value is a candidate of its own)
            for span in _balanced_spans(source) if source in bodies else ():
                if any(span in big and span != big for big in whole):
                    continue
                ok, value = _try_load(span)
                if ok and value not in found:
                    found.append(value)
            continue
        if value not in found:
            found.append(value)
    return found


def extract_json(text: str | None, schema: dict[str, Any] | None = None,
                 validate: Callable[[Any], bool] | None = None) -> Any:
    """The JSON value in ``text``: the whole text, else the one answer among the fenced blocks and
    balanced objects/arrays in it.

    A chatty reply can hold several JSON values ("if 1 were better I would write {"better": "1"}. My
    verdict: {"better": "2"}"). Only candidates that validate count (against ``schema`` and/or
    ``validate``; without either, those of the first candidate's type); when they disagree the reply
    is unparseable (:class:`ParseError`), never a guess. Candidates that agree (equal, or objects
    whose shared keys hold equal values) give the most complete one.

    Raises :class:`ParseError` when nothing parses or the candidates disagree.
    """
    if text is None or not text.strip():
        raise ParseError("empty reply", text or "")
    ok, value = _try_load(text)
    if ok:
        return value
    found = _candidates(text)
    if not found:
        raise ParseError(f"no JSON value found in reply: {text[:120]!r}", text)

    def valid(v: Any) -> bool:
        return (schema is None or not schema_errors(v, schema)) and (validate is None or validate(v))

    if schema is not None or validate is not None:
        answers = [v for v in found if valid(v)]
        if not answers:
            return found[0]  # nothing validates: the caller's validation reports why
    else:
        answers = [v for v in found if type(v) is type(found[0])]
    if any(not _compatible(x, y) for i, x in enumerate(answers) for y in answers[i + 1:]):
        shown = "; ".join(json.dumps(v, ensure_ascii=False, default=str)[:60] for v in answers[:3])
        raise ParseError(f"the reply holds {len(answers)} different JSON answers that disagree ({shown}); "
                         f"not guessing which one is meant", text)
    return max(answers, key=lambda v: len(v) if isinstance(v, dict) else 0)


def parse_model(text_or_obj: Any, model: type[M]) -> M:
    """Extract (if text) and validate against a pydantic model; :class:`ParseError` on failure.

    From text, only candidates that validate against ``model`` count, and candidates that disagree
    make the reply unparseable (see :func:`extract_json`).
    """
    if isinstance(text_or_obj, str):
        def validates(v: Any) -> bool:
            try:
                model.model_validate(v)
            except ValidationError:
                return False
            return True

        obj = extract_json(text_or_obj, validate=validates)
    else:
        obj = text_or_obj
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        raise ParseError(f"reply does not match {model.__name__}: {exc.errors()[:3]}", str(text_or_obj)) from exc


_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def schema_errors(value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """A small JSON-schema check (type, enum, const, required, properties, additionalProperties, items,
    min/maxLength, minimum/maximum, min/maxItems, anyOf). Returns a list of problems (empty = valid)."""
    errs: list[str] = []
    if "anyOf" in schema:
        if all(schema_errors(value, s, path) for s in schema["anyOf"]):
            errs.append(f"{path}: matches none of anyOf")
        return errs
    t = schema.get("type")
    if t is not None:
        types = t if isinstance(t, list) else [t]
        ok = any(
            isinstance(value, _TYPES.get(tt, (object,)))
            and not (tt in ("integer", "number") and isinstance(value, bool))
            for tt in types
        )
        if not ok:
            return [f"{path}: expected {t}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        errs.append(f"{path}: {value!r} not in {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        errs.append(f"{path}: {value!r} != {schema['const']!r}")
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errs.append(f"{path}: longer than {schema['maxLength']}")
        if "minLength" in schema and len(value) < schema["minLength"]:
            errs.append(f"{path}: shorter than {schema['minLength']}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errs.append(f"{path}: below {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errs.append(f"{path}: above {schema['maximum']}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        errs += [f"{path}: missing {k!r}" for k in schema.get("required", []) if k not in value]
        for k, v in value.items():
            if k in props:
                errs += schema_errors(v, props[k], f"{path}.{k}")
            elif schema.get("additionalProperties") is False:
                errs.append(f"{path}: unexpected key {k!r}")
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errs.append(f"{path}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errs.append(f"{path}: more than {schema['maxItems']} items")
        if isinstance(schema.get("items"), dict):
            for i, v in enumerate(value):
                errs += schema_errors(v, schema["items"], f"{path}[{i}]")
    return errs
