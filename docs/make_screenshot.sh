#!/usr/bin/env bash
# Regenerate docs/report-screenshot.png from a run directory:
#   bash docs/make_screenshot.sh RUN_DIR [OUT_PNG]
# Writes RUN_DIR/report.html, opens it in headless Chromium (network cut, DevTools pipe), checks it loads
# with no console error and no external request, and saves the top 1280x1500 px as the screenshot.
set -euo pipefail
RUN=${1:?usage: docs/make_screenshot.sh RUN_DIR [OUT_PNG]}
cd "$(dirname "$0")/.."
OUT=${2:-docs/report-screenshot.png}
BIN=${BIN:-.venv/bin}
"$BIN/profile-align" report "$RUN" -o "$RUN/report.html"
"$BIN/python" tests/report/browser.py "$RUN/report.html" --screenshot "$OUT" --width 1280 --height 1500
echo "screenshot: $OUT"
