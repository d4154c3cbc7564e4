"""The run summary's key finding per judge and plain-language readings (pipeline/summary.judge_findings),
on hand-built tables with hand-worked sentences."""

from types import SimpleNamespace

import pandas as pd

from profile_align.pipeline.summary import judge_findings


def _result(diff_significant: bool = True, tau: float = 0.4):
    fs = pd.DataFrame({
        "judge": ["human", "human", "human", "gpt4:evaluation", "gpt4:evaluation", "gpt4:evaluation"],
        "factor": ["length", "novel_words", "flat", "length", "novel_words", "flat"],
        "score": [0.2, -0.5, 0.0, 0.6, 0.1, 0.0],
        "rank": [1, 3, 2, 1, 2, 3],
        "rank_kept": [0.9, 1.0, 0.5, 0.75, 0.6, 0.5],
        "concordant": [6, 1, 0, 8, 11, 0],  # flat: no decisive pair -> no reading, never "strongest"
        "discordant": [4, 9, 0, 2, 9, 0],
    })
    al = pd.DataFrame([{"judge": "gpt4:evaluation", "kendall_tau": tau, "kendall_ci_low": -0.2,
                        "kendall_ci_high": 1.0, "note": "" if tau == tau else "undefined: constant scores"}])
    diff = pd.DataFrame([{"judge": "gpt4:evaluation", "factor": "length", "diff": 0.4, "significant": diff_significant},
                         {"judge": "gpt4:evaluation", "factor": "novel_words", "diff": 0.6, "significant": False}])
    return SimpleNamespace(tables={"factor_scores": fs, "alignment": al, "differences": diff})


def test_one_key_finding_per_judge_then_readings_of_its_largest_factors():
    lines = judge_findings(_result(), max_readings=1)
    assert lines == [
        # |−0.5| > |0.2|: novel words is the human's strongest factor; 1 of 10 decisive pairs concordant
        "human: strongest factor novel words (-0.50, rank 3 kept in 100% of resamples)",
        "  novel words: -0.50: in decisive pairs the text with more novel words is preferred 10% of the time (of 10)",
        "  ... 1 more factor(s): see the report",
        "gpt4:evaluation: strongest factor length (+0.60, rank 1 kept in 75% of resamples); alignment with the "
        "human: Kendall tau +0.40 [-0.20, +1.00]; largest significant difference from the human: length +0.40 (Holm)",
        "  length: +0.60: in decisive pairs the text with more length is preferred 80% of the time (of 10)",
        "  ... 1 more factor(s): see the report",
    ]


def test_undefined_alignment_and_no_significant_difference_are_said():
    lines = judge_findings(_result(diff_significant=False, tau=float("nan")))
    gpt = [line for line in lines if line.startswith("gpt4")][0]
    assert "alignment with the human undefined: constant scores" in gpt
    assert "no factor differs significantly from the human (Holm)" in gpt
    assert not any("flat" in line for line in lines)
