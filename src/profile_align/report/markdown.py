"""The report as Markdown: the same sections and tables as the HTML; figures as links to the PNGs
written with ``--figures DIR`` (else a note). Texts from data are HTML-escaped too, because most
Markdown viewers render raw HTML, and link and image syntax in them is escaped (a data text never
becomes a live link or fetches a remote image)."""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

from ..version import __version__
from .blocks import Cell, FigureRef, KeyValues, Note, PairExample, Section, Table, Text
from .document import Report
from .plots import FIGURE_TITLES

__all__ = ["render_markdown"]


_MD_LINK = re.compile(r"([\\\[\]])")


def _esc_line(s: str) -> str:
    """HTML-escaped, with Markdown link and image syntax (``[x](javascript:...)``, ``![](http://...)``,
    ``[x]: url``) made literal: backslash, ``[`` and ``]`` are backslash-escaped."""
    return _MD_LINK.sub(r"\\\1", html.escape(s, quote=False))


def _esc(s: str) -> str:
    return _esc_line(s).replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def _cell(c: Cell) -> str:
    return _esc(c.value if isinstance(c, Text) else str(c))


def _table(t: Table) -> list[str]:
    out = [f"*{_esc(t.caption)}*", ""] if t.caption else []
    out.append("| " + " | ".join(_esc(c) for c in t.columns) + " |")
    out.append("|" + "|".join("---:" if i in t.numeric else "---" for i in range(len(t.columns))) + "|")
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in t.rows]
    return out + [""]


def _block(b: object, figures: dict[str, Path], base: Path | None) -> list[str]:
    if isinstance(b, Table):
        return _table(b)
    if isinstance(b, FigureRef):
        title = b.caption or FIGURE_TITLES.get(b.name, b.name)
        if b.name in figures:
            p = figures[b.name]
            rel = Path(os.path.relpath(p, base)) if base is not None else p
            return [f"![{_esc(title)}]({rel.as_posix()})", ""]
        return [f"*Figure: {_esc(title)} (write PNGs with `--figures DIR` to link it here).*", ""]
    if isinstance(b, KeyValues):
        out = [f"*{_esc(b.caption)}*", ""] if b.caption else []
        return out + [f"- **{_esc(k)}**: {_cell(v)}" for k, v in b.items] + [""]
    if isinstance(b, Note):
        return [("> **Warning:** " if b.level == "warn" else "> ") + _esc(b.text), ""]
    if isinstance(b, PairExample):
        out = [f"#### {_esc(b.title)}", ""] + [f"- **{_esc(k)}**: {_esc(v)}" for k, v in b.facts] + [""]
        for label, t in b.texts:
            out += [f"**{_esc(label)}** ({t.size}):", ""]
            out += ["> " + _esc_line(line) for line in t.value.splitlines() or [""]] + [""]
        return out
    raise TypeError(f"unknown block {type(b).__name__}")


def _section(s: Section, figures: dict[str, Path], base: Path | None) -> list[str]:
    out = [f"## {_esc(s.title)}", ""]
    if s.intro:
        out += [_esc(s.intro), ""]
    if s.omitted is not None:
        out += [f"*Omitted: {_esc(s.omitted)}.*", ""]
    for b in s.blocks:
        out += _block(b, figures, base)
    return out


def render_markdown(rep: Report, figures: dict[str, Path] | None = None, *, relative_to: str | Path | None = None) -> str:
    """Markdown of the report; ``figures`` (name -> PNG path) are linked relative to ``relative_to``."""
    m = rep.run.manifest
    name = (m.get("dataset") or {}).get("name") or (rep.run.info or {}).get("name") or rep.run.path.name
    lines = [f"# PROFILE report: {_esc(str(name))}", ""]
    base = Path(relative_to) if relative_to is not None else None
    for s in rep.sections:
        lines += _section(s, figures or {}, base)
    lines.append(f"*profile-align {__version__} · run directory {_esc(rep.run.path.name)}*")
    return "\n".join(lines) + "\n"
