"""Reading rows from local files, with 1-based line numbers, and validated access to their fields.

Supported: ``.jsonl`` / ``.json`` (a JSON array, or JSON Lines under a ``.json`` name, as OpenAI's
summarize-from-feedback ships them), either optionally gzipped (``.gz``), and ``.csv`` / ``.tsv``.
Every row comes back as a :class:`Record` that knows its file and line, so that every error can name
file, line and field.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..dataset import InvalidInputError

__all__ = ["Record", "read_records", "get_field", "MISSING", "type_name"]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class Record:
    """One input row: where it came from (file, 1-based line) and its parsed content.

    ``error`` is set (and ``data`` is ``None``) when the line could not be parsed; the loader turns it
    into an :class:`InvalidInputError`, or a rejection with ``skip_invalid``.
    """

    path: str
    line: int | None
    data: Any
    error: str | None = None

    def fail(self, fieldname: str | None, reason: str) -> InvalidInputError:
        return InvalidInputError(self.path, self.line, fieldname, reason)


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _base_suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def read_records(path: str | Path) -> Iterator[Record]:
    """Yield the rows of a file as :class:`Record` objects, in file order."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    kind = _base_suffix(p)
    try:
        with _open_text(p) as fh:
            if kind in (".csv", ".tsv"):
                yield from _read_delimited(str(p), fh, "\t" if kind == ".tsv" else ",")
                return
            text = fh.read()
    except (OSError, EOFError, UnicodeDecodeError) as e:  # corrupt gzip, bad encoding
        raise InvalidInputError(str(p), None, None, f"cannot read file: {e}") from e
    if kind == ".json" and text.lstrip().startswith("["):
        yield from _read_json_array(str(p), text)
    else:
        yield from _read_json_lines(str(p), text)


def _read_json_lines(path: str, text: str) -> Iterator[Record]:
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield Record(path, i, json.loads(line))
        except json.JSONDecodeError as e:
            yield Record(path, i, None, f"invalid JSON: {e.msg} (column {e.colno})")


def _read_json_array(path: str, text: str) -> Iterator[Record]:
    """Elements of a top-level JSON array, each with the line on which it starts."""
    dec = json.JSONDecoder()
    pos = text.index("[") + 1
    line = 1 + text.count("\n", 0, pos)
    n = len(text)

    def skip_ws(k: int) -> int:
        while k < n and text[k] in " \t\r\n":
            k += 1
        return k

    def lineno(k: int) -> int:
        return 1 + text.count("\n", 0, k)

    pos = skip_ws(pos)
    if pos < n and text[pos] == "]":
        return
    while True:
        try:
            obj, end = dec.raw_decode(text, pos)
        except json.JSONDecodeError as e:
            raise InvalidInputError(path, e.lineno, None, f"invalid JSON: {e.msg} (column {e.colno})") from e
        line = lineno(pos)
        yield Record(path, line, obj)
        pos = skip_ws(end)
        if pos < n and text[pos] == ",":
            pos = skip_ws(pos + 1)
            continue
        if pos < n and text[pos] == "]":
            if text[pos + 1:].strip():
                raise InvalidInputError(path, lineno(pos + 1), None, "invalid JSON: extra data after the array")
            return
        raise InvalidInputError(path, lineno(pos), None, "invalid JSON: expected ',' or ']' in the array")


def _read_delimited(path: str, fh: Any, delimiter: str) -> Iterator[Record]:
    reader = csv.reader(fh, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as e:
        raise InvalidInputError(path, 1, None, f"invalid CSV header: {e}") from e
    header = [h.strip() for h in header]
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            yield Record(path, start, None, f"invalid CSV: {e}")
            continue
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            yield Record(path, start, None, f"invalid CSV: {len(cells)} cells, header has {len(header)} columns")
            continue
        yield Record(path, start, dict(zip(header, cells)))


def type_name(types: type | tuple[type, ...]) -> str:
    ts = types if isinstance(types, tuple) else (types,)
    names = {str: "string", int: "integer", float: "number", list: "list", dict: "object", bool: "boolean"}
    return " or ".join(names.get(t, t.__name__) for t in ts)


def get_field(rec: Record, dotted: str, types: type | tuple[type, ...] | None = None, *,
              required: bool = True, nonempty: bool = True, default: Any = None) -> Any:
    """The value at ``dotted`` ("info.post", "summaries.0.text") in ``rec.data``, type-checked.

    Missing (absent or null) and ``required`` -> :class:`InvalidInputError` naming the field; otherwise
    ``default``. Wrong type -> error naming the expected type. ``nonempty`` rejects blank strings and
    empty lists. ``bool`` is never accepted where a number is expected.
    """
    cur: Any = rec.data
    for part in dotted.split("."):
        if isinstance(cur, dict):
            cur = cur.get(part, MISSING)
        elif isinstance(cur, list) and part.isdigit():
            cur = cur[int(part)] if int(part) < len(cur) else MISSING
        else:
            cur = MISSING
        if cur is MISSING or cur is None:
            if required:
                raise rec.fail(dotted, "missing field" if cur is MISSING else "field is null")
            return default
    if types is not None:
        ts = types if isinstance(types, tuple) else (types,)
        if float in ts and int not in ts:
            ts = (*ts, int)
        if not isinstance(cur, ts) or (isinstance(cur, bool) and bool not in ts):
            raise rec.fail(dotted, f"expected {type_name(types)}, got {type(cur).__name__} {_short(cur)}")
    if nonempty and ((isinstance(cur, str) and not cur.strip()) or (isinstance(cur, (list, dict)) and not cur)):
        raise rec.fail(dotted, "empty text" if isinstance(cur, str) else "empty value")
    return cur


def _short(v: Any) -> str:
    s = repr(v)
    return s if len(s) <= 40 else s[:37] + "..."
