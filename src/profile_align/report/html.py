"""The self-contained HTML report: one file, inline CSS and SVG, no script, no external resource.

Every text from data or a model goes through jinja2's autoescape; only the figures' SVG (made by
matplotlib from escaped text and checked for active content in :func:`plots.figure_svg`) is inserted
as markup. A Content-Security-Policy meta tag (``default-src 'none'``) makes any external load fail.
"""

from __future__ import annotations

import jinja2
from markupsafe import Markup

from ..version import __version__
from .blocks import FigureRef, KeyValues, Note, PairExample, Table, Text
from .derive import all_flags, diagnostics_ran, llm_usage, n_bad_calls
from .document import Report
from .plots import FIGURE_TITLES

__all__ = ["render_html", "FORMAT_VERSION", "CSP"]

FORMAT_VERSION = "1"
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

_KINDS = {Table: "table", FigureRef: "figure", KeyValues: "keyvalues", Note: "note", PairExample: "pairexample"}


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("profile_align.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["blockkind"] = lambda b: _KINDS[type(b)]
    env.tests["textcell"] = lambda c: isinstance(c, Text)
    return env


def _chips(rep: Report) -> list[tuple[str, bool]]:
    m = rep.run.manifest
    chips: list[tuple[str, bool]] = []
    status = m.get("status")
    if status:
        chips.append((f"status: {status}", status != "complete"))
    if diagnostics_ran(rep.run):
        n_flags = len(all_flags(rep.run))
        chips.append((f"{n_flags} flag(s)", n_flags > 0))
    else:
        chips.append(("judges not diagnosed", False))
    u = llm_usage(rep.run)
    if u is not None and u.get("requests"):
        bad = n_bad_calls(u)
        chips.append((f"{bad} of {int(u['requests']):,} LLM answers failed or unparseable", bad > 0))
    a = rep.run.alignment
    if a is not None and not a.empty and "kendall_tau" in a.columns:
        for r in a.to_dict(orient="records"):
            tau = r.get("kendall_tau")
            if tau is not None and tau == tau:
                chips.append((f"{r.get('judge')}: alignment tau {float(tau):+.3f}", False))
    if rep.errors or rep.run.problems:
        chips.append((f"{len(rep.errors) + len(rep.run.problems)} report problem(s)", True))
    return chips


def render_html(rep: Report) -> str:
    m = rep.run.manifest
    ds = m.get("dataset") or {}
    info = rep.run.info or {}
    name = ds.get("name") or info.get("name") or rep.run.path.name
    task = ds.get("task") or info.get("task") or "?"
    when = m.get("updated") or m.get("created")
    subtitle = f"dataset {name} · task {task}" + (f" · {when}" if when else "") + \
        (f" · config {m['config_hash']}" if m.get("config_hash") else "")
    svgs = {k: Markup(v) for k, v in rep.svgs().items()}  # noqa: S704 - checked in figure_svg
    return _env().get_template("report.html.j2").render(
        title=f"PROFILE report: {name}",
        subtitle=subtitle,
        chips=_chips(rep),
        sections=rep.sections,
        figures=svgs,
        figure_titles=FIGURE_TITLES,
        version=__version__,
        format_version=FORMAT_VERSION,
        footer=f"profile-align {__version__} · run directory {rep.run.path.name} · "
               "self-contained file: no script, no network access",
    )
