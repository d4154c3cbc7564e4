"""A report = the run's data, its sections and its figures; :func:`write_report` writes HTML or Markdown."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import overview_section  # noqa: F401  (registers the "overview" section)
from .blocks import Section
from .build import RunData, load_run
from .plots import figure_svg, render_figures, save_png
from .sections import build_sections

__all__ = ["Report", "build_report", "write_report", "WrittenReport", "FORMATS", "MissingExtra", "require_extra"]

FORMATS = ("html", "md")


@dataclass
class Report:
    run: RunData
    sections: list[Section]
    figures: dict[str, object]  # name -> matplotlib Figure
    errors: list[str] = field(default_factory=list)  # sections/figures that failed (also shown in the report)
    _svgs: dict[str, str] | None = field(default=None, repr=False)

    @property
    def omitted(self) -> dict[str, str]:
        """Section id -> why it is left out."""
        return {s.id: s.omitted for s in self.sections if s.omitted is not None}

    def svgs(self) -> dict[str, str]:
        """name -> inline SVG, made once (a second savefig of a figure may lay it out differently)."""
        if self._svgs is None:
            self._svgs = {name: figure_svg(fig, name) for name, fig in self.figures.items()}
        return self._svgs

    def save_figures(self, directory: str | Path) -> dict[str, Path]:
        """One PNG per figure (``<name>.png``) in ``directory``."""
        d = Path(directory)
        return {name: save_png(fig, d / f"{name}.png") for name, fig in self.figures.items()}


class MissingExtra(ImportError):
    pass


def require_extra() -> None:
    """Raise :class:`MissingExtra` with the install command when matplotlib or jinja2 is missing."""
    import importlib.util

    missing = [m for m in ("matplotlib", "jinja2") if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingExtra(f"the report needs {' and '.join(missing)}: pip install 'profile-align[report]'")


def build_report(run_dir: str | Path | RunData) -> Report:
    require_extra()
    run = run_dir if isinstance(run_dir, RunData) else load_run(run_dir)
    built = build_sections(run)
    errors = list(built.errors)
    figures = render_figures(run, errors)
    rep = Report(run, built.sections, figures, errors)
    rep.svgs()
    return rep


@dataclass(frozen=True)
class WrittenReport:
    path: Path
    format: str
    figures: dict[str, Path]
    omitted: dict[str, str]
    errors: list[str]
    problems: list[str]


def write_report(run_dir: str | Path, output: str | Path | None = None, *, fmt: str = "html",
                 figures_dir: str | Path | None = None) -> WrittenReport:
    """Write the report of ``run_dir`` (default ``RUN_DIR/report.html`` or ``report.md``); with
    ``figures_dir`` also one PNG per figure (the Markdown links them)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format {fmt!r}; use one of {', '.join(FORMATS)}")
    rep = build_report(run_dir)
    out = Path(output) if output is not None else rep.run.path / f"report.{fmt}"
    pngs = rep.save_figures(figures_dir) if figures_dir is not None else {}
    if fmt == "html":
        from .html import render_html

        text = render_html(rep)
    else:
        from .markdown import render_markdown

        text = render_markdown(rep, pngs, relative_to=out.parent)
    from ..rundir import atomic_write_bytes

    atomic_write_bytes(out, text.encode("utf-8"))  # permissions follow the umask, like any other file
    for fig in rep.figures.values():
        _close(fig)
    return WrittenReport(out, fmt, pngs, rep.omitted, rep.errors, list(rep.run.problems))


def _close(fig: object) -> None:
    # object-API figures are not tracked by pyplot; dropping references frees them
    try:
        fig.clear()  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001
        pass
