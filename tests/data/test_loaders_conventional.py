"""Conventional layouts in their original schemas, detected without a format; --judges, --group-by,
--keep-ties, DataFrames and --task names."""

import json

import pandas as pd
import pytest

from profile_align.data.dataset import InvalidInputError
from profile_align.data.loaders import load_dataset
from profile_align.data.model import Verdict

LM = "0=tie,1=a,2=b"


@pytest.fixture
def conv(fixtures):
    return fixtures / "conventional"


def _verdicts(ds, judge="human"):
    pairs = ds.pair_map()
    outs = ds.output_map()
    return [(outs[pairs[p.pair_id].a].text, outs[pairs[p.pair_id].b].text, p.verdict) for p in ds.preferences_of(judge)]


@pytest.mark.parametrize("name,fmt,kw", [
    ("pairwise.csv", "pairwise", {"label_map": LM}),
    ("pairwise.jsonl", "pairwise", {"label_map": LM}),
    ("arena.jsonl", "arena", {}),
    ("arena_55k.csv", "arena_55k", {}),
    ("dpo.jsonl", "dpo", {}),
    ("alpaca_eval.json", "alpaca_eval", {}),
    ("annotated_pairs.json", "annotated_pairs", {}),
    ("ultrafeedback.jsonl", "ultrafeedback", {}),
])
def test_detected_without_format(conv, name, fmt, kw):
    ds = load_dataset(conv / name, **kw)
    r = ds.report
    assert r.format == fmt
    assert r.rows_read == r.rows_valid + r.rows_rejected and r.rows_rejected == 0


def test_pairwise_winner_declared(conv):
    ds = load_dataset(conv / "pairwise.csv", label_map=LM)
    r = ds.report
    # 12 rows; row 3 (p1, winner 0) is a tie
    assert (r.rows_read, r.pairs_built, r.ties_dropped) == (12, 11, 1)
    v = _verdicts(ds)
    assert v[0] == ("Water it.", "Give it six hours of sun, water when the top soil is dry, and pinch off flower buds.",
                    Verdict.B)
    assert v[1][2] == Verdict.A
    producers = {o.producer for o in ds.outputs}
    assert producers == {"m-small", "m-large"}


def test_numeric_winner_needs_label_map(conv):
    with pytest.raises(InvalidInputError, match=r"line 2, field 'winner': 3 label value\(s\) without a declared "
                                                r"meaning.*'2' \(lines 2, 5, 6, 8, 10, ... \(6 rows\)\); '1' \(lines 3, 7, 9, 12, 13\); '0' \(line 4\)"):
        load_dataset(conv / "pairwise.csv")


def test_ambiguous_detection_lists_candidates(tmp_path):
    p = tmp_path / "both.jsonl"
    p.write_text(json.dumps({"id": "x", "prompt": "p", "response_a": "a", "response_b": "b", "preferred": "a",
                             "winner": "a"}) + "\n")
    with pytest.raises(InvalidInputError, match=r"fits several formats: hh_rlhf, pairwise .*pass --format"):
        load_dataset(p)
    assert load_dataset(p, format="pairwise").report.format == "pairwise"


def test_arena_ties_and_conversations(conv):
    ds = load_dataset(conv / "arena.jsonl")
    assert (ds.report.pairs_built, ds.report.ties_dropped) == (2, 2)  # "tie" and "tie (bothbad)"
    v = _verdicts(ds)
    assert v[0] == ("Red, yellow and blue are the traditional primary colours in painting.", "Red.", Verdict.A)
    assert v[1] == ("5", "2 + 2 = 4.", Verdict.B)
    assert ds.examples[0].input == "Name three primary colours."
    assert {o.producer for o in ds.outputs} == {"vicuna-13b", "alpaca-13b", "koala-13b"}


def test_arena_55k_one_hot_winner_and_turn_lists(conv, tmp_path):
    ds = load_dataset(conv / "arena_55k.csv")
    assert (ds.report.pairs_built, ds.report.ties_dropped) == (2, 1)
    assert [p.verdict for p in ds.preferences] == [Verdict.A, Verdict.B]
    ex = ds.example_map()["30192"]
    assert ex.input.endswith("\n\nOK, does pineapple belong on a pizza? Relax and give me fun answer.")
    lines = (conv / "arena_55k.csv").read_text().splitlines()
    p = tmp_path / "bad.csv"
    p.write_text("\n".join([lines[0], lines[1].replace(",1,0,0", ",1,1,0")]) + "\n")
    with pytest.raises(InvalidInputError, match=r"line 2, field 'winner_tie': exactly one of"):
        load_dataset(p)


def test_dpo_chosen_is_preferred_position_by_coin(conv):
    ds = load_dataset(conv / "dpo.jsonl")
    chosen = {"Joyful.", "Merci.", "Canberra is the capital of Australia.",
              "Botanically yes; in cooking it is treated as a vegetable."}
    sides = []
    for a, b, v in _verdicts(ds):
        assert (a if v == Verdict.A else b) in chosen
        assert (b if v == Verdict.A else a) not in chosen
        sides.append(v)
    assert Verdict.A in sides and Verdict.B in sides  # position carries no information
    assert "Gracias, which is Spanish rather than French." in {o.text for o in ds.outputs}


def test_alpaca_eval_votes_ties_nulls(conv):
    ds = load_dataset(conv / "alpaca_eval.json")
    r = ds.report
    assert (r.rows_read, r.pairs_built, r.ties_dropped) == (6, 3, 1)
    assert r.dropped == {"AlpacaEval annotation without a preference (null)": 1}
    prefs = {ds.output_map()[ds.pair_map()[p.pair_id].a].text: p for p in ds.preferences}
    haiku = prefs["Leaves fall."]
    assert haiku.verdict == Verdict.B and haiku.metadata["annotations"] == 2 and haiku.strength == 1.0
    prime = prefs["Seven is prime."]
    assert prime.verdict == Verdict.A and prime.strength == 0.5  # preference 1.25 -> |1.5 - 1.25| * 2


def test_ultrafeedback_pairs_from_ratings(conv):
    ds = load_dataset(conv / "ultrafeedback.jsonl")
    # instruction 1: 5.0, 3.5, 3.5 -> 2 decisive pairs + 1 tie; instruction 2: 5 (N/A skipped) vs 2.5
    assert (ds.report.pairs_built, ds.report.ties_dropped) == (3, 1)
    outs = ds.output_map()
    for p in ds.preferences:
        pr = ds.pair_map()[p.pair_id]
        winner = outs[pr.a] if p.verdict == Verdict.A else outs[pr.b]
        assert winner.producer == "gpt-4"
    assert sorted(p.strength for p in ds.preferences) == [1.5, 1.5, 2.5]


def test_annotated_pairs_default_and_more_annotators(conv):
    ds = load_dataset(conv / "annotated_pairs.json", judges="concise=2f45a6d0,gpt4=gpt4_pref", group_by="topic")
    r = ds.report
    assert (r.rows_read, r.pairs_built) == (4, 3)
    assert r.dropped == {"comparison without a preference of the default annotator (absent)": 1}
    assert [p.verdict for p in ds.preferences_of("human")] == [Verdict.A, Verdict.B, Verdict.A]
    assert [p.verdict for p in ds.preferences_of("concise")] == [Verdict.B, Verdict.A]  # c0a3: not applicable
    assert [p.verdict for p in ds.preferences_of("gpt4")] == [Verdict.A, Verdict.B, Verdict.A]
    assert [p.metadata["groups"] for p in ds.preferences_of("human")] == [
        {"topic": "science"}, {"topic": "pets"}, {"topic": "science"}]
    with pytest.raises(InvalidInputError, match=r"field 'annotators': judge 'x': no annotator 'nobody' .*gpt4_pref"):
        load_dataset(conv / "annotated_pairs.json", judges="x=nobody")


def test_annotated_pairs_error_names_comparison(tmp_path, conv):
    data = json.loads((conv / "annotated_pairs.json").read_text())
    del data["comparisons"][1]["response_b"]["text"]
    p = tmp_path / "ap.json"
    p.write_text(json.dumps(data, indent=2))
    with pytest.raises(InvalidInputError, match=r"field 'comparisons.1.response_b.text': missing field"):
        load_dataset(p)
    ds = load_dataset(p, skip_invalid=True)
    assert (ds.report.rows_read, ds.report.rows_valid, ds.report.rows_rejected) == (4, 3, 1)


def test_judge_columns_become_judges(conv):
    ds = load_dataset(conv / "pairwise.jsonl", label_map=LM, judges="gpt4=gpt4_winner", group_by="domain")
    assert ds.judges == ["gpt4", "human"]
    g = ds.preferences_of("gpt4")
    assert len(g) == 11  # on the 11 decisive human pairs
    assert sum(p.verdict == Verdict.TIE for p in g) == 1  # gpt4's own tie (p3, row 9) stays a judge tie
    assert {p.metadata["groups"]["domain"] for p in ds.preferences_of("human")} == {"cooking", "tech"}
    with pytest.raises(InvalidInputError, match=r"field 'nope': missing field"):
        load_dataset(conv / "pairwise.jsonl", label_map=LM, group_by="nope")
    with pytest.raises(ValueError, match=r"'human' is the format's own preference column"):
        load_dataset(conv / "pairwise.jsonl", label_map=LM, judges="human=winner")
    with pytest.raises(ValueError, match=r"--judges applies to formats with label columns .*; dpo has none"):
        load_dataset(conv / "dpo.jsonl", judges="x=y")
    with pytest.raises(ValueError, match=r"--group-by applies to .*; not to summeval"):
        load_dataset("summeval", group_by="x")


def test_keep_human_ties(conv):
    ds = load_dataset(conv / "pairwise.csv", label_map=LM, keep_ties=True)
    r = ds.report
    assert (r.pairs_built, r.ties_dropped, r.ties_kept) == (12, 0, 1)
    assert sum(p.verdict == Verdict.TIE for p in ds.preferences) == 1
    assert any("kept 1 human ties" in line for line in r.summary_lines())


def test_skip_invalid_counts_every_row(tmp_path, conv):
    lines = (conv / "pairwise.jsonl").read_text().splitlines()
    bad = json.loads(lines[4])
    bad["response_b"] = ""
    lines[4] = json.dumps(bad)
    p = tmp_path / "pw.jsonl"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidInputError, match=r"line 5, field 'response_b': empty text"):
        load_dataset(p, label_map=LM)
    ds = load_dataset(p, label_map=LM, skip_invalid=True)
    r = ds.report
    assert (r.rows_read, r.rows_valid, r.rows_rejected) == (12, 11, 1) and r.rejected[0].line == 5


def test_csv_and_jsonl_load_identically(conv):
    a = load_dataset(conv / "pairwise.csv", label_map=LM, judges="gpt4=gpt4_winner").to_frame()
    b = load_dataset(conv / "pairwise.jsonl", label_map=LM, judges="gpt4=gpt4_winner").to_frame()
    pd.testing.assert_frame_equal(a, b)


def test_dataframe_source(conv):
    df = pd.read_csv(conv / "pairwise.csv")
    mapping = "input=prompt,output_a=response_a,output_b=response_b,preferred=winner"
    from_df = load_dataset(df, mapping=mapping, label_map=LM)
    from_file = load_dataset(conv / "pairwise.csv", mapping=mapping, label_map=LM)
    pd.testing.assert_frame_equal(from_df.to_frame(), from_file.to_frame())
    assert load_dataset(df, label_map=LM).report.format == "pairwise"  # detected as from the file
    df.loc[3, "response_a"] = None
    with pytest.raises(InvalidInputError, match=r"<DataFrame>, line 5, field 'response_a': missing field"):
        load_dataset(df, label_map=LM)


def test_task_names(conv):
    with pytest.raises(ValueError, match=r"unknown task 'sumarization'; known tasks: summarization, "
                                         r"helpful_response, document_qa"):
        load_dataset(conv / "dpo.jsonl", task="sumarization")
    assert load_dataset(conv / "dpo.jsonl", task="summarisation").task == "summarization"


def test_generic_mapping_reads_judges_and_groups(conv):
    mapping = "input=prompt,output_a=response_a,output_b=response_b,preferred=winner"
    ds = load_dataset(conv / "pairwise.csv", mapping=mapping, label_map=LM, judges="gpt4=gpt4_winner",
                      group_by="domain,model_a")
    assert ds.report.format == "generic" and ds.judges == ["gpt4", "human"]
    assert ds.preferences_of("human")[0].metadata["groups"] == {"domain": "cooking", "model_a": "m-small"}
    # a judge column with undeclared values: one error listing them
    with pytest.raises(InvalidInputError, match=r"field 'domain': 2 label value\(s\) not in the label map "
                                                r"\(0=tie,1=a,2=b\): 'cooking' \(lines 2, 3, 4, 8, 9, ... \(6 rows\)\); 'tech'"):
        load_dataset(conv / "pairwise.csv", label_map=LM, judges="gpt4=domain")
