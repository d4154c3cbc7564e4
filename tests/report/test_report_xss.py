"""Texts from data and models are escaped everywhere: no payload becomes an element or an attribute."""

from __future__ import annotations

from markupsafe import escape

from profile_align.report import write_report

from .domparse import census
from .fixture_run import XSS_IMG, XSS_SCRIPT


def test_payloads_are_escaped_in_html(xss_html):
    html = xss_html.read_text()
    c = census(html)
    assert "script" not in c.tags
    assert "img" not in c.tags
    assert not [a for a in c.attrs if a[1].lower().startswith("on")]
    # the payloads are there, as text (output, source, model name, flag evidence, experiment value)
    assert html.count(str(escape(XSS_SCRIPT))) >= 3
    assert html.count(str(escape(XSS_IMG))) >= 3
    assert XSS_SCRIPT not in html and "<img" not in html
    text = c.all_text
    assert XSS_SCRIPT in text and XSS_IMG in text


def test_payloads_in_figure_labels_stay_text(xss_run, tmp_path):
    # judge/model names reach the SVG figures too (axis titles): still no element
    html = write_report(xss_run, tmp_path / "x.html").path.read_text()
    svg_part = html[html.index("<figure>"):html.rindex("</figure>")]
    assert "<script" not in svg_part and "<img" not in svg_part


def test_payloads_are_escaped_in_markdown(xss_run, tmp_path):
    md = write_report(xss_run, tmp_path / "x.md", fmt="md").path.read_text()
    assert "<script" not in md and "<img" not in md
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in md
    assert "&lt;img src=x onerror=alert(1)&gt;" in md
