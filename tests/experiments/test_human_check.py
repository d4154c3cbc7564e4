import pandas as pd
import pytest

from profile_align.data.dataset import Dataset
from profile_align.data.model import Example, Output, Pair, Preference
from profile_align.experiments.human_check import export_form, fleiss_kappa, import_answers, parse_vote
from profile_align.rundir import RunDir


@pytest.fixture
def run(tmp_path):
    exs = [Example(f"e{i}", "summarization", f"post {i} <b>bold</b>") for i in range(6)]
    outs = [o for i in range(6) for o in (Output(f"e{i}:s1", f"e{i}", f"low <script>alert({i})</script>", "m:generation"),
                                          Output(f"e{i}:s5", f"e{i}", f"high text {i}", "m:generation"))]
    pairs = [Pair(f"p{i}", f"e{i}", f"e{i}:s1", f"e{i}:s5") for i in range(6)]
    prefs = [Preference(f"p{i}", "m:generation", "b") for i in range(6)]  # the higher score (s5) wins
    rd = RunDir(tmp_path / "run", create=True)
    rd.write_dataset(Dataset("toy", "summarization", exs, outs, pairs, prefs))
    return rd


def test_parse_vote():
    assert [parse_vote(v) for v in ("1", " 2 ", "TIE", "", None, "a", "2.0")] == ["1", "2", "tie", None, None, "1", "2"]
    with pytest.raises(ValueError):
        parse_vote("maybe")


def test_fleiss_kappa_hand_worked():
    # perfect agreement -> 1 ; Fleiss' own textbook-style check: all raters split evenly -> negative
    assert fleiss_kappa([[3, 0, 0], [0, 3, 0], [3, 0, 0]]) == pytest.approx(1.0)
    assert fleiss_kappa([[2, 1, 0], [1, 2, 0]]) < 0


def test_export_then_import(run, tmp_path):
    paths = export_form(run, "m:generation", n=4, seed=3)
    form = pd.read_csv(paths["form_csv"])
    key = pd.read_csv(paths["key"], dtype=str)
    assert len(form) == 4 and list(form.columns[-3:]) == ["annotator_1", "annotator_2", "annotator_3"]
    html = paths["form_html"].read_text()
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html  # escaped
    # annotators: all three pick the high-score text for items 1-2; split 1/2/blank on item 3; pick low on item 4
    high = {r.item: ("1" if "high" in r.text_1 else "2") for r in form.itertuples()}
    low = {k: ("2" if v == "1" else "1") for k, v in high.items()}
    items = list(form["item"])
    ans = form.copy()
    for k in (1, 2, 3):
        ans[f"annotator_{k}"] = [high[items[0]], high[items[1]], [high[items[2]], low[items[2]], ""][k - 1], low[items[3]]]
    ans.to_csv(tmp_path / "filled.csv", index=False)
    s = import_answers(run, [tmp_path / "filled.csv"])
    assert (key["judge_prefers"] == [high[i] for i in key["item"]]).all()
    assert s["with_majority"] == 3 and s["no_majority"] == 1
    assert s["agreement"] == pytest.approx(2 / 3)
    assert (run / "experiments/human_check/summary.json").exists()


def test_import_bad_answer_names_file_line_field(run, tmp_path):
    export_form(run, "m:generation", n=2)
    (tmp_path / "a.csv").write_text("item,answer\nitem001,perhaps\n")
    with pytest.raises(ValueError, match=r"a.csv, line 2, field 'answer'"):
        import_answers(run, [tmp_path / "a.csv"])


def test_unknown_judge(run):
    with pytest.raises(ValueError, match="judges"):
        export_form(run, "nobody")
