"""Docs name no machine-specific paths and agree with the code on file names and exit codes."""

import re
from pathlib import Path

from profile_align.cli_errors import EXIT_CODES
from profile_align.rundir import judge_file_name

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_docs_name_no_machine_specific_paths():
    bad = re.compile(r"(?<![\w.])/(work|home|root|Users|mnt|tmp/pytest)/")
    hits = [f"{p.name}:{i}" for p in DOCS for i, line in enumerate(p.read_text().splitlines(), 1) if bad.search(line)]
    assert not hits, hits


def test_readme_exit_code_table_matches_the_code():
    readme = (ROOT / "README.md").read_text()
    table = readme.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| (\d) \| (.+?) \|$", table, flags=re.M))
    assert sorted(int(k) for k in rows) == sorted(EXIT_CODES)


def test_score_file_name_in_docs_is_the_code_s():
    assert f"scores/{judge_file_name('local:evaluation')}.json" in (ROOT / "docs/run-directory.md").read_text()
