"""Issue 14 item 11: link and image syntax from the data stays text in the Markdown report."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

from profile_align.report.blocks import KeyValues, PairExample, Section, Table, Text
from profile_align.report.markdown import render_markdown

LINK = "[click](javascript:alert(1))"
IMAGE = "![](http://tracker.example/pixel.png)"
REFDEF = "[x]: http://evil.example/"


def _render() -> str:
    sec = Section("s", f"Section {LINK}", intro=IMAGE, blocks=[
        Table(["col", "value"], [[LINK, Text(IMAGE)], ["backslash \\[x](y)", "ok"]], caption=REFDEF),
        KeyValues([("k " + LINK, Text(IMAGE))]),
        PairExample("pair " + LINK, [("fact", IMAGE)], [("Output A", Text(f"line one\n{IMAGE}\n{REFDEF}"))]),
    ])
    run = SimpleNamespace(manifest={"dataset": {"name": LINK}}, info={}, path=Path("run"))
    return render_markdown(SimpleNamespace(run=run, sections=[sec], figures={}))


def test_no_live_link_or_image_from_data():
    md = _render()
    # an unescaped "[" followed by "](" or "]:" would be a link, image or reference definition
    assert not re.search(r"(?<!\\)\[[^\]\n]*(?<!\\)\]\(", md)
    assert not re.search(r"^\s*(?:>\s*)?(?<!\\)\[[^\]\n]*(?<!\\)\]:", md, re.M)
    assert "!\\[\\](http://tracker.example/pixel.png)" in md and "\\[click\\](javascript:alert(1))" in md
    assert "backslash \\\\\\[x\\](y)" in md  # a backslash from the data cannot un-escape the bracket
