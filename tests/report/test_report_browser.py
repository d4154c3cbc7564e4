"""The report in a real browser: headless Chromium over the DevTools pipe, network cut.

Skipped (with the reason) where no Chromium is installed; CI installs Debian's `chromium` (.ci/run).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .browser import check_in_browser, find_chromium

pytestmark = pytest.mark.skipif(find_chromium() is None,
                                reason="no Chromium installed (apt-get install chromium, or set $CHROMIUM)")


def test_report_loads_clean_in_chromium(xss_html, tmp_path):
    shot_dir = Path(os.environ.get("PROFILE_ALIGN_SCREENSHOT_DIR", tmp_path))
    res = check_in_browser(xss_html, screenshot=shot_dir / "report-browser-test.png", height=1800)
    assert res.console_errors == []
    assert res.external_requests == []
    assert res.dialogs == []  # alert(1) never ran
    assert res.requests and res.requests[0] == res.url
    d = res.dom
    assert d["scripts"] == 0 and d["imgs"] == 0 and d["iframes"] == 0 and d["handlers"] == 0
    assert d["external"] == []
    assert d["svgs"] == 7  # five figures + the joint section's coefficient plot and correlation heatmap
    assert d["sections"][:2] == ["findings", "run"] and {"scores", "alignment", "differences"} <= set(d["sections"]), d["sections"]
    assert d["title"] == "PROFILE report: summeval"
    png = res.screenshot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000


def test_the_check_catches_scripts_and_external_loads(tmp_path):
    # negative control: a page that tries to load from the network and log an error must fail the check
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><head><title>bad</title></head><body>'
                   '<img src="http://example.invalid/x.png">'
                   '<script>console.error("boom")</script></body></html>')
    res = check_in_browser(bad, height=400)
    assert not res.ok
    assert any("example.invalid" in u for u in res.external_requests)
    assert any("boom" in e for e in res.console_errors)
    assert res.dom["scripts"] == 1
