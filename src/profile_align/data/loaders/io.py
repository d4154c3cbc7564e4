"""Reading rows from local files, with 1-based line numbers, and validated access to their fields.

Supported: ``.jsonl`` / ``.json`` (a JSON array, or JSON Lines under a ``.json`` name, as OpenAI's
summarize-from-feedback ships them), either optionally gzipped (``.gz``), and ``.csv`` / ``.tsv``.
Every row comes back as a :class:`Record` that knows its file and line, so that every error can name
file, line and field.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import re
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..dataset import InvalidInputError

__all__ = ["Record", "read_records", "get_field", "check_number", "MISSING", "type_name"]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class Record:
    """One input row: where it came from (file, 1-based line) and its parsed content.

    ``error`` is set (and ``data`` is ``None``) when the line could not be parsed (``error_field``: the
    column it is in, if any); the loader turns it into an :class:`InvalidInputError`, or a rejection
    with ``skip_invalid``.
    """

    path: str
    line: int | None
    data: Any
    error: str | None = None
    error_field: str | None = None   # the field (CSV column) the error is in, where there is one

    def fail(self, fieldname: str | None, reason: str) -> InvalidInputError:
        return InvalidInputError(self.path, self.line, fieldname, reason)


# Python's csv module refuses cells over 131,072 characters by default; a text that loads from JSONL
# must load from CSV too (a refused cell also made the reader resume inside the cell and invent rows).
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))

# ``surrogateescape`` decodes an invalid UTF-8 byte 0xNN to the lone surrogate U+DCNN, which valid UTF-8
# never yields: its presence marks the row holding the bad byte.
_BAD_BYTE = re.compile("[\udc80-\udcff]")


def _read_text(path: Path) -> str:
    """The whole file decoded as UTF-8 (a leading BOM removed; invalid bytes kept as U+DC80..U+DCFF)."""
    if path.suffix == ".gz":
        with gzip.open(path, "rb") as fh:
            raw = fh.read()
    else:
        raw = path.read_bytes()
    text = raw.decode("utf-8", errors="surrogateescape")
    return text[1:] if text.startswith("\ufeff") else text


def _bad_bytes(text: str) -> str | None:
    """``"invalid UTF-8 byte 0xff (column 12)"`` for the first undecodable byte in ``text``, else None."""
    m = _BAD_BYTE.search(text)
    if m is None:
        return None
    return f"invalid UTF-8 byte 0x{ord(m.group()) - 0xDC00:02x} (column {m.start() + 1})"


def _base_suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def read_records(path: str | Path) -> Iterator[Record]:
    """Yield the rows of a file as :class:`Record` objects, in file order.

    A row that cannot be read (invalid JSON, JSON nested too deeply, an integer too long for Python,
    an invalid UTF-8 byte, a CSV row with the wrong number of cells or an unterminated quote) comes
    back as a record with ``error`` set and its line, so that one bad row never loses the others.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    kind = _base_suffix(p)
    try:
        text = _read_text(p)
    except (OSError, EOFError, zlib.error) as e:  # corrupt or truncated gzip, unreadable file
        raise InvalidInputError(str(p), None, None, f"cannot read file: {e}") from e
    if kind in (".csv", ".tsv"):
        yield from _read_delimited(str(p), text, "\t" if kind == ".tsv" else ",")
    elif kind == ".json" and text.lstrip().startswith("["):
        yield from _read_json_array(str(p), text)
    elif kind == ".json" and text.lstrip().startswith("{") and (whole := _json_object(text)) is not None:
        yield Record(str(p), 1 + text.count("\n", 0, len(text) - len(text.lstrip())), whole)
    else:
        yield from _read_json_lines(str(p), text)


def _json_object(text: str) -> Any:
    """A ``.json`` file holding one JSON object spread over several lines (the AnnotatedPairs
    format): the object; ``None`` when the text is not one object (JSON Lines under a .json name)."""
    if "\n" not in text.strip() or _bad_bytes(text) is not None:
        return None
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


def _json_problem(e: BaseException) -> str:
    if isinstance(e, json.JSONDecodeError):
        return f"invalid JSON: {e.msg} (column {e.colno})"
    if isinstance(e, RecursionError):
        return "invalid JSON: nested too deeply to read (more than about 1,000 levels of [ or {)"
    # ValueError from int(): "Exceeds the limit (4300 digits) for integer string conversion: ..."
    return f"invalid JSON: a number is too long to read ({str(e).split(':')[0]})"


def _read_json_lines(path: str, text: str) -> Iterator[Record]:
    """JSON Lines are separated by ``\\n`` only: U+2028, U+2029 and U+0085 are valid inside a JSON
    string (``json.dumps(..., ensure_ascii=False)`` writes them raw), so ``str.splitlines`` must not be used."""
    for i, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        bad = _bad_bytes(line)
        if bad is not None:
            yield Record(path, i, None, bad)
            continue
        try:
            yield Record(path, i, json.loads(line))
        except (ValueError, RecursionError) as e:  # JSONDecodeError is a ValueError
            yield Record(path, i, None, _json_problem(e))


def _read_json_array(path: str, text: str) -> Iterator[Record]:
    """Elements of a top-level JSON array, each with the line on which it starts.

    An element that is not valid JSON stops the reading with an error naming its line: where it ends
    cannot be known, so the elements after it cannot be read.
    """
    dec = json.JSONDecoder()
    pos = text.index("[") + 1
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
            raise InvalidInputError(path, e.lineno, None, _json_problem(e)) from e
        except (ValueError, RecursionError) as e:
            raise InvalidInputError(path, lineno(pos), None, _json_problem(e)) from e
        bad = _bad_bytes(text[pos:end])
        yield Record(path, lineno(pos), None if bad else obj, bad)
        pos = skip_ws(end)
        if pos < n and text[pos] == ",":
            pos = skip_ws(pos + 1)
            continue
        if pos < n and text[pos] == "]":
            if text[pos + 1:].strip():
                raise InvalidInputError(path, lineno(pos + 1), None, "invalid JSON: extra data after the array")
            return
        raise InvalidInputError(path, lineno(pos), None, "invalid JSON: expected ',' or ']' in the array")


def _physical_lines(text: str) -> list[str]:
    pieces = text.split("\n")
    lines = [p + "\n" for p in pieces[:-1]]
    return lines + [pieces[-1]] if pieces[-1] else lines


def _read_delimited(path: str, text: str, delimiter: str) -> Iterator[Record]:
    """CSV/TSV rows. A row with the wrong number of cells or a quote that is never closed is one
    error naming its first line; reading resumes on the next line, so every row is read or rejected
    (a stray quote never swallows the rows after it)."""
    lines = _physical_lines(text)
    pos = 0

    def feed() -> Iterator[str]:
        nonlocal pos
        while pos < len(lines):
            pos += 1
            yield lines[pos - 1]

    reader = csv.reader(feed(), delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as e:
        raise InvalidInputError(path, 1, None, f"invalid CSV header: {e}") from e
    bad = _bad_bytes("".join(header))
    if bad is not None:
        raise InvalidInputError(path, 1, None, f"invalid CSV header: {bad}")
    header = [h.strip() for h in header]
    while pos < len(lines):
        start = pos
        problem = None
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            problem = f"invalid CSV: {e}"
            cells = []
        else:
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(header):
                problem = f"invalid CSV: {len(cells)} cells, header has {len(header)} columns"
        if problem is not None:
            if pos - start > 1:  # a quote opened on this line ran over the following lines
                problem = ("invalid CSV: a quoted cell opened on this line is not closed before the row ends "
                           "(the lines after it are read as rows of their own)")
            yield Record(path, start + 1, None, problem)
            pos = start + 1
            reader = csv.reader(feed(), delimiter=delimiter, strict=True)
            continue
        for col, cell in zip(header, cells):
            bad = _bad_bytes(cell)
            if bad is not None:
                yield Record(path, start + 1, None, bad, col)
                break
        else:
            yield Record(path, start + 1, dict(zip(header, cells)))


def type_name(types: type | tuple[type, ...]) -> str:
    ts = types if isinstance(types, tuple) else (types,)
    names = {str: "string", int: "integer", float: "number", list: "list", dict: "object", bool: "boolean"}
    return " or ".join(names.get(t, t.__name__) for t in ts)


def get_field(rec: Record, dotted: str, types: type | tuple[type, ...] | None = None, *,
              required: bool = True, nonempty: bool = True, default: Any = None,
              lo: float | None = None, hi: float | None = None) -> Any:
    """The value at ``dotted`` ("info.post", "summaries.0.text") in ``rec.data``, type-checked.

    Missing (absent or null) and ``required`` -> :class:`InvalidInputError` naming the field; otherwise
    ``default``. Wrong type -> error naming the expected type. ``nonempty`` rejects blank strings and
    empty lists. ``bool`` is never accepted where a number is expected; a number must be finite (NaN
    and Infinity are errors) and within ``lo``..``hi`` when given.
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
    if isinstance(cur, (int, float)) and not isinstance(cur, bool):
        check_number(rec, dotted, cur, lo, hi)
    if nonempty and ((isinstance(cur, str) and not cur.strip()) or (isinstance(cur, (list, dict)) and not cur)):
        raise rec.fail(dotted, "empty text" if isinstance(cur, str) else "empty value")
    return cur


def check_number(rec: Record, fieldname: str, value: float, lo: float | None = None,
                 hi: float | None = None) -> float:
    """``value`` if it is finite and within ``lo``..``hi``; else an error naming the field."""
    if isinstance(value, float) and not math.isfinite(value):
        raise rec.fail(fieldname, f"expected a finite number, got {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        rng = f"{lo:g} to {hi:g}" if lo is not None and hi is not None else (
            f"at least {lo:g}" if lo is not None else f"at most {hi:g}")
        raise rec.fail(fieldname, f"out of range: expected {rng}, got {_short(value)}")
    return value


def _short(v: Any) -> str:
    """A short description of a value (never the repr of a deeply nested structure)."""
    if isinstance(v, (list, dict)):
        return f"with {len(v)} item{'s' if len(v) != 1 else ''}"
    s = repr(v) if not isinstance(v, int) or abs(v) < 10**30 else f"{str(v)[:20]}... ({len(str(v))} digits)"
    return s if len(s) <= 40 else s[:37] + "..."
