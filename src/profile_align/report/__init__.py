"""Reports of a PROFILE run: one self-contained HTML file (inline SVG figures, no script, no network),
or Markdown, from a run directory (docs/run-directory.md).

>>> from profile_align.report import write_report
>>> write_report("runs/demo")                      # runs/demo/report.html
>>> write_report("runs/demo", "r.md", fmt="md", figures_dir="figs")

Needs the ``report`` extra (matplotlib, jinja2). See docs/report.md.
"""

from .build import JudgeInfo, NotARunDirectory, RunData, load_run
from .document import FORMATS, MissingExtra, Report, WrittenReport, build_report, write_report
from .plots import FIGURES, register_figure
from .sections import SECTIONS, register_section
from . import joint_section  # noqa: F401,E402  (registers the joint-effects section and figures)
from . import section_later  # noqa: F401  (registers the logprob and selfguide sections)
from . import findings  # noqa: E402,F401 - registers the "Key findings" section (first in the report)

__all__ = [
    "write_report", "build_report", "Report", "WrittenReport", "FORMATS", "MissingExtra",
    "load_run", "RunData", "JudgeInfo", "NotARunDirectory",
    "FIGURES", "register_figure", "SECTIONS", "register_section",
]
