"""The report's "Key findings" paragraph: derived from the run's tables, first in the report."""

from profile_align.report import load_run
from profile_align.report.derive import differences, score_matrix
from profile_align.report.findings import key_findings


def test_key_findings_name_the_largest_factor_differences_alignment_and_flags(full_run):
    run = load_run(full_run)
    text = " ".join(key_findings(run))
    s = score_matrix(run, "score")
    for judge in s.columns:  # the largest |score| of every judge is named with its value
        col = s[judge].dropna()
        if not col.empty:
            top = col.abs().idxmax()
            assert f"{col[top]:+.2f}" in text and judge in text
    d = differences(run)
    if d["significant"].any():
        assert "Biggest significant differences (judge − human, Holm-adjusted)" in text
    else:
        assert "No human-model difference" in text
    assert "Alignment with the human factor ranking" in text
    assert ("Diagnostic flags:" in text) == bool(run.manifest.get("flags"))
