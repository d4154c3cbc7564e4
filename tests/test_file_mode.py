"""Issue 14 item 12: atomically written files follow the umask (0644 under 022), like any other file."""

from __future__ import annotations

import os
import stat

import pandas as pd
import pytest

from profile_align.rundir import RunDir, atomic_write_bytes, file_mode


def _mode(p) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


@pytest.mark.parametrize("umask,expected", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_atomic_writes_follow_the_umask(tmp_path, umask, expected):
    old = os.umask(umask)
    try:
        assert file_mode() == expected
        rd = RunDir(tmp_path / "run", create=True)
        written = [rd.write_json("manifest.json", {"a": 1}), rd.write_json("usage.json", {}),
                   rd.write_table("tables/alignment", pd.DataFrame({"x": [1]}))]
        written.append(rd.path / "tables" / "alignment.csv")
        atomic_write_bytes(tmp_path / "report.md", b"# r\n")
        written.append(tmp_path / "report.md")
        (tmp_path / "plain.txt").write_text("x")
        assert _mode(tmp_path / "plain.txt") == expected
        assert {str(p): _mode(p) for p in written} == {str(p): expected for p in written}
    finally:
        os.umask(old)


def test_factor_table_follows_the_umask(tmp_path):
    from profile_align.data.loaders import load_dataset
    from profile_align.factors.engine import extract_factors

    old = os.umask(0o022)
    try:
        res = extract_factors(load_dataset("llmbar", limit=2), ["length"])
        res.table.save(tmp_path / "f.parquet")
        assert _mode(tmp_path / "f.parquet") == 0o644
    finally:
        os.umask(old)
