"""Figures: every one renders, SVG is deterministic and inert, names with markup or $ stay text."""

from __future__ import annotations

import re

import pytest

from profile_align.report import FIGURES, load_run
from profile_align.report.plots import _UNSAFE, figure_svg, render_figures, save_png


def test_all_figures_render_deterministically(full_run):
    run = load_run(full_run)
    errors: list[str] = []
    figs = render_figures(run, errors)
    assert errors == [] and list(figs) == list(FIGURES)
    again = render_figures(load_run(full_run))
    for name in figs:
        a, b = figure_svg(figs[name], name), figure_svg(again[name], name)
        assert a == b
        assert a.startswith("<svg") and "xmlns" not in a
        ids = re.findall(r'\bid="([^"]+)"', a)
        assert all(i.startswith(name + "-") for i in ids)
        for ref in re.findall(r'href="#([^"]+)"|url\(#([^)]+)\)', a):
            assert (ref[0] or ref[1]) in ids


def test_minimal_run_has_only_the_possible_figures(minimal_run):
    assert list(render_figures(load_run(minimal_run))) == ["factor_scores", "factor_correlation"]


def test_dollar_and_markup_in_names(full_run, tmp_path):
    run = load_run(full_run)
    run.scores = run.scores.replace({"judge": {"fake:evaluation": "$x$ <b>judge</b> & co"}})
    svg = figure_svg(render_figures(run)["factor_scores"], "factor_scores")
    assert "$x$ &lt;b&gt;judge&lt;/b&gt; &amp; co" in svg
    assert save_png(render_figures(run)["factor_scores"], tmp_path / "f.png").stat().st_size > 1000


@pytest.mark.parametrize("snippet, unsafe", [
    ('<script>x</script>', True), ('<g onload="x">', True), ('<a href="#x">', True),
    ('<use href="javascript:x">', True), ('<text>only = on this=</text>', False), ('<g id="a-b">', False),
])
def test_active_content_detector(snippet, unsafe):
    assert bool(_UNSAFE.search(snippet)) is unsafe
